// Capacity checks of concurrent requests (csi/volumes/capacity.ts): those
// that queue behind one check are checked together against one view of the
// disk, granted in arrival order, each taking its bytes from what is left.
import { describe, it, expect, afterEach } from 'vitest';
import { mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fakeContext } from '../../support/csi-fakes.ts';
import { capacityView, roomForSpare, withRoomFor } from '../../../csi/volumes/capacity.ts';
import { SparePool } from '../../../csi/volumes/spares.ts';
import type { Filesystems } from '../../../csi/volumes/filesystem.ts';
import { silentLogger } from '../../../lib/logging.ts';

const GiB = 1024 ** 3;
let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('withRoomFor under a burst', () => {
  it('20 concurrent 1 GiB promises on a pool of 10.5 GiB: exactly the first 10 are granted, the rest refused', async () => {
    dir = mkdtempSync('/tmp/hp-csi-cap-');
    mkdirSync(join(dir, 'images'));
    const { ctx } = fakeContext(dir);
    // A reserve that leaves a pool of 10.5 GiB of this filesystem's free space.
    const st = statfsSync(dir);
    ctx.capacity = { reserveBytes: st.bavail * st.bsize - 10.5 * GiB };
    let concurrent = 0;
    let most = 0;
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        withRoomFor(
          ctx,
          { id: `v-${i}`, more: GiB, total: GiB },
          (m) => new Error(m),
          async () => {
            concurrent++;
            most = Math.max(most, concurrent);
            await new Promise((r) => setTimeout(r, 20)); // the record write, under way
            concurrent--;
            return i;
          },
        ),
      ),
    );
    const granted = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    expect(granted).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const refused = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
    expect(refused).toHaveLength(10);
    expect(String(refused[0]!.reason)).toMatch(/1073741824 more bytes do not fit on node n1/);
    // The grants overlapped (one check, not one after another behind each record write).
    expect(most).toBeGreaterThan(1);
    // Once settled, nothing is left promised.
    expect((await capacityView(ctx)).promisedBytes).toBe(0);
  });

  it('a view that cannot be taken fails every request waiting on it', async () => {
    dir = mkdtempSync('/tmp/hp-csi-cap-');
    const { ctx } = fakeContext(join(dir, 'missing'));
    const r = await Promise.allSettled(
      [1, 2, 3].map((i) =>
        withRoomFor(
          ctx,
          { id: `v-${i}`, more: 1, total: 1 },
          (m) => new Error(m),
          async () => i,
        ),
      ),
    );
    expect(r.every((x) => x.status === 'rejected' && /ENOENT/.test(String(x.reason)))).toBe(true);
  });
});

describe('spare images in the capacity view', () => {
  it('a spare is made only while a volume of its size still fits beside it; what spares hold is shown, never promised', async () => {
    dir = mkdtempSync('/tmp/hp-csi-cap-');
    mkdirSync(join(dir, 'images'));
    mkdirSync(join(dir, 'spares'));
    const { ctx } = fakeContext(dir);
    const st = statfsSync(dir);
    ctx.capacity = { reserveBytes: st.bavail * st.bsize - 1 * GiB };
    expect(await roomForSpare(ctx, 512 * 1024 ** 2)).toBe(true);
    expect(await roomForSpare(ctx, GiB)).toBe(false); // the volume it is for would not fit beside it
    const fs = { make: async (p: string) => writeFileSync(p, Buffer.alloc(256 * 1024), { flag: 'r+' }) } as unknown as Filesystems;
    ctx.spares = new SparePool({
      dir: join(dir, 'spares'),
      fs,
      log: silentLogger(),
      policy: { max: 1, perKey: 1 },
      roomFor: async () => true,
      idle: () => true,
      idleCheckMs: 1,
    });
    await ctx.spares.take('ext4', 8 * 1024 ** 2, join(dir, 'images', 'x.img'));
    await ctx.spares.settled();
    const v = await capacityView(ctx);
    expect(v.spareBytes).toBeGreaterThanOrEqual(256 * 1024);
    expect(v.promisedBytes).toBe(0);
    await ctx.spares.close();
  });
});
