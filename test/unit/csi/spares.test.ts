// The pool of pre-formatted spare images (csi/volumes/spares.ts): taken by an
// atomic rename, topped up in the background only while the driver is idle
// and there is room, bounded, never used half-made.
import { describe, it, expect, afterEach } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SparePool, type SparePolicy } from '../../../csi/volumes/spares.ts';
import type { Filesystems } from '../../../csi/volumes/filesystem.ts';
import { silentLogger } from '../../../lib/logging.ts';

const MiB = 1024 ** 2;
let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A "mkfs" that writes a marker into the image, and can be held mid-format. */
function fakeFs() {
  let hold: Promise<void> | undefined;
  let release = () => {};
  const made: string[] = [];
  const fs = {
    async make(device: string, fsType: string) {
      made.push(fsType);
      if (hold) await hold;
      writeFileSync(device, `fresh ${fsType}`, { flag: 'r+' });
    },
  } as unknown as Filesystems;
  return {
    fs,
    made,
    holdNext() {
      hold = new Promise<void>((r) => {
        release = () => {
          hold = undefined;
          r();
        };
      });
    },
    release: () => release(),
  };
}

function pool(f: ReturnType<typeof fakeFs>, opts: { policy?: SparePolicy; room?: () => boolean; idle?: () => boolean } = {}) {
  return new SparePool({
    dir: join(dir, 'spares'),
    fs: f.fs,
    log: silentLogger(),
    policy: opts.policy ?? { max: 2, perKey: 1 },
    roomFor: async () => opts.room?.() ?? true,
    idle: opts.idle ?? (() => true),
    idleCheckMs: 1,
  });
}

function setup() {
  dir = mkdtempSync('/tmp/hp-csi-spares-');
  mkdirSync(join(dir, 'spares'));
  mkdirSync(join(dir, 'images'));
}

describe('SparePool', () => {
  it('a first ask misses and makes a spare in the background; the next one of that kind takes it by rename, formatted and of its size', async () => {
    setup();
    const f = fakeFs();
    const p = pool(f);
    expect(await p.take('ext4', 8 * MiB, join(dir, 'images', 'a.img'))).toBe(false);
    await p.settled();
    expect(p.count()).toBe(1);
    const dest = join(dir, 'images', 'b.img');
    expect(await p.take('ext4', 8 * MiB, dest)).toBe(true);
    expect(readFileSync(dest, 'utf8').startsWith('fresh ext4')).toBe(true);
    expect(statSync(dest).size).toBe(8 * MiB);
    // Another size or type is another kind.
    expect(await p.take('xfs', 8 * MiB, join(dir, 'images', 'c.img'))).toBe(false);
    expect(await p.take('ext4', 16 * MiB, join(dir, 'images', 'd.img'))).toBe(false);
    await p.close();
  });

  it('a crash mid-format leaves a dot-name that is never used and is removed at the next start', async () => {
    setup();
    const f = fakeFs();
    f.holdNext();
    const p = pool(f);
    await p.take('ext4', 8 * MiB, join(dir, 'images', 'a.img'));
    for (let i = 0; i < 200 && f.made.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    // "Crash": the driver is gone with the format under way.
    const left = readdirSync(join(dir, 'spares'));
    expect(left).toHaveLength(1);
    expect(left[0]).toMatch(/^\.ext4-8388608-\d+\.tmp$/);
    const again = pool(fakeFs());
    expect((await again.load()).removed).toEqual(left);
    expect(readdirSync(join(dir, 'spares'))).toEqual([]);
    expect(await again.take('ext4', 8 * MiB, join(dir, 'images', 'x.img'))).toBe(false);
    expect(existsSync(join(dir, 'images', 'x.img'))).toBe(false);
    f.release();
    await p.close();
    await again.close();
  });

  it('complete spares survive a restart within the bounds; surplus and foreign files go', async () => {
    setup();
    const s = join(dir, 'spares');
    for (const n of ['ext4-1024-1.img', 'ext4-1024-2.img', 'xfs-2048-3.img', 'zfs-1-4.img', 'junk']) writeFileSync(join(s, n), 'x');
    const p = pool(fakeFs(), { policy: { max: 2, perKey: 1 } });
    expect((await p.load()).removed.sort()).toEqual(['ext4-1024-2.img', 'junk', 'zfs-1-4.img']);
    expect(p.count()).toBe(2);
    expect(await p.take('xfs', 2048, join(dir, 'images', 'v.img'))).toBe(true);
    await p.close();
  });

  it('bounded: at most max spares, perKey of a kind; a newly wanted kind evicts the least recently wanted', async () => {
    setup();
    const f = fakeFs();
    const p = pool(f, { policy: { max: 2, perKey: 1 } });
    for (const size of [1, 2, 3]) {
      await p.take('ext4', size * MiB, join(dir, 'images', `m${size}.img`));
      await p.settled();
    }
    const names = readdirSync(join(dir, 'spares')).sort();
    expect(names.map((n) => n.replace(/-\d+\.img$/, ''))).toEqual(['ext4-2097152', 'ext4-3145728']);
    await p.close();
  });

  it('no spare is made while a call runs, nor without room; draining removes them all', async () => {
    setup();
    const f = fakeFs();
    let idle = false;
    let room = false;
    const p = pool(f, { idle: () => idle, room: () => room });
    await p.take('ext4', MiB, join(dir, 'images', 'a.img'));
    await new Promise((r) => setTimeout(r, 30));
    expect(f.made).toEqual([]); // busy
    idle = true;
    await p.settled();
    expect(p.count()).toBe(0); // no room
    room = true;
    await p.take('ext4', MiB, join(dir, 'images', 'b.img'));
    await p.settled();
    expect(p.count()).toBe(1);
    await p.drain();
    expect(p.count()).toBe(0);
    expect(readdirSync(join(dir, 'spares'))).toEqual([]);
    await p.close();
  });
});
