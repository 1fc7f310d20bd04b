import { describe, it, expect } from 'vitest';
import { KeyedMutex } from '../../../csi/state/keyed-mutex.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('KeyedMutex', () => {
  it('runs calls for one key one at a time, in arrival order', async () => {
    const m = new KeyedMutex();
    const log: string[] = [];
    const job = (n: number) =>
      m.run('vol', async () => {
        log.push(`start${n}`);
        await sleep(5);
        log.push(`end${n}`);
        return n;
      });
    expect(await Promise.all([job(1), job(2), job(3)])).toEqual([1, 2, 3]);
    expect(log).toEqual(['start1', 'end1', 'start2', 'end2', 'start3', 'end3']);
  });

  it('runs calls for different keys in parallel', async () => {
    const m = new KeyedMutex();
    let running = 0;
    let peak = 0;
    const job = (k: string) =>
      m.run(k, async () => {
        running++;
        peak = Math.max(peak, running);
        await sleep(10);
        running--;
      });
    await Promise.all([job('a'), job('b'), job('c')]);
    expect(peak).toBe(3);
  });

  it('a failing call releases the key and the next one still runs', async () => {
    const m = new KeyedMutex();
    await expect(
      m.run('k', async () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await m.run('k', async () => 'ok')).toBe('ok');
    expect(m.busy).toBe(0);
  });
});
