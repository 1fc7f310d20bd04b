import { describe, it, expect, afterEach } from 'vitest';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DirWatcher } from '../../../device-plugin/dir-watcher.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let dir = '';
let w: DirWatcher | undefined;
afterEach(() => {
  w?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('DirWatcher', () => {
  it('folds a burst of events into one callback', async () => {
    dir = mkdtempSync(join(tmpdir(), 'hp-dw-'));
    let calls = 0;
    w = new DirWatcher({
      onChange: () => {
        calls++;
      },
      debounceMs: 20,
    });
    w.setDirs([dir]);
    for (let i = 0; i < 10; i++) writeFileSync(join(dir, `f${i}`), '');
    await sleep(100);
    expect(calls).toBe(1);
  });

  it('renamesOnly: writes to an existing entry do not count, creation and removal do', async () => {
    dir = mkdtempSync(join(tmpdir(), 'hp-dw-'));
    writeFileSync(join(dir, 'node'), '');
    let calls = 0;
    w = new DirWatcher({
      onChange: () => {
        calls++;
      },
      debounceMs: 5,
      renamesOnly: true,
    });
    w.setDirs([dir]);
    for (let i = 0; i < 5; i++) {
      appendFileSync(join(dir, 'node'), 'x');
      await sleep(10);
    }
    expect(calls).toBe(0);
    rmSync(join(dir, 'node'));
    await sleep(50);
    expect(calls).toBe(1);
  });

  it('a missing dir is skipped, not an error', () => {
    dir = mkdtempSync(join(tmpdir(), 'hp-dw-'));
    w = new DirWatcher({ onChange: () => {} });
    w.setDirs([join(dir, 'nope'), dir]);
    expect(w.dirs()).toEqual([dir]);
  });
});

describe('DirWatcher on a dir that is deleted and recreated', () => {
  it('setDirs watches the new dir (new inode), so later events are seen', async () => {
    dir = mkdtempSync(join(tmpdir(), 'hp-dw-'));
    const sub = join(dir, 'sub');
    mkdirSync(sub);
    const seen: string[] = [];
    w = new DirWatcher({
      onChange: (c) => {
        for (const x of c) if (x.name) seen.push(x.name);
      },
      debounceMs: 5,
    });
    w.setDirs([sub]);
    rmSync(sub, { recursive: true });
    mkdirSync(sub);
    w.setDirs([sub]);
    await sleep(30);
    seen.length = 0;
    writeFileSync(join(sub, 'dev0'), '');
    await sleep(50);
    expect(seen).toContain('dev0');
  });
});
