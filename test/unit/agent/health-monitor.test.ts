import { describe, it, expect } from 'vitest';
import { HealthMonitor } from '../../../agent/health/monitor.ts';
import { silentLogger } from '../../../lib/logging.ts';

const monitor = () => new HealthMonitor({ intervalMs: 60_000, deadlineMs: 50, log: silentLogger() });

describe('HealthMonitor', () => {
  it('no checks, or all passing: nothing fails', async () => {
    const m = monitor();
    await m.checkNow();
    expect(m.failures()).toEqual([]);
    m.add({ component: 'a', check: async () => {} });
    await m.checkNow();
    expect(m.failures()).toEqual([]);
    expect(m.states()).toEqual([{ component: 'a', healthy: true }]);
  });

  it('a check that ignores its deadline fails anyway, shortly after it', async () => {
    const m = monitor();
    m.add({ component: 'wedged', check: () => new Promise(() => {}) });
    const t0 = Date.now();
    await m.checkNow();
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(m.failures()).toEqual([{ component: 'wedged', reason: 'no answer in 50 ms' }]);
    expect(m.states()).toEqual([{ component: 'wedged', healthy: false }]);
  });

  it('reasons of one component are joined; a component that recovers is healthy again', async () => {
    const m = monitor();
    let broken = true;
    m.add({
      component: 'dp',
      check: async () => {
        if (broken) throw new Error('x: gone');
      },
    });
    m.add({
      component: 'dp',
      check: async () => {
        if (broken) throw new Error('y: gone');
      },
    });
    await m.checkNow();
    expect(m.failures()).toEqual([{ component: 'dp', reason: 'x: gone; y: gone' }]);
    broken = false;
    await m.checkNow();
    expect(m.failures()).toEqual([]);
  });

  it('concurrent checkNow calls share one run', async () => {
    const m = monitor();
    let runs = 0;
    m.add({
      component: 'a',
      check: async () => {
        runs++;
        await new Promise((r) => setTimeout(r, 10));
      },
    });
    await Promise.all([m.checkNow(), m.checkNow(), m.checkNow()]);
    expect(runs).toBe(1);
  });
});
