// Undo lists and start-up reconcile, against the fakes: what a half-done
// call leaves behind is rolled back, and nothing else is touched.
import { describe, it, expect, afterEach } from 'vitest';
import { mkdtempSync, rmSync, mkdirSync, existsSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fakeContext } from '../../support/csi-fakes.ts';
import { createVolume } from '../../../csi/controller/create-volume.ts';
import { nodeStageVolume } from '../../../csi/node/stage.ts';
import { reconcile } from '../../../csi/reconcile.ts';
import { imagePath } from '../../../csi/context.ts';

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function setup() {
  dir = mkdtempSync('/tmp/hp-csi-unit-');
  for (const d of ['images', 'snapshots']) mkdirSync(join(dir, d));
  return fakeContext(dir);
}
const caps = [{ access_type: 'mount' as const, mount: { fs_type: 'ext4' }, access_mode: { mode: 'SINGLE_NODE_WRITER' as const } }];

describe('CreateVolume undo', () => {
  it('a clone whose copy fails leaves neither record nor image', async () => {
    const f = setup();
    const src = await createVolume(f.ctx, { name: 'src', volume_capabilities: caps, capacity_range: { required_bytes: 1 << 20 } });
    f.copier.fail = true;
    await expect(
      createVolume(f.ctx, { name: 'clone', volume_capabilities: caps, volume_content_source: { volume: { volume_id: src.volume.volume_id } } }),
    ).rejects.toThrow(/injected/);
    expect(f.store.volumes().map((v) => v.name)).toEqual(['src']);
    expect(readdirSync(join(dir, 'images'))).toEqual([`${src.volume.volume_id}.img`]);
  });
});

describe('NodeStageVolume undo', () => {
  it('a failed mount detaches the loop device and forgets the stage', async () => {
    const f = setup();
    const { volume } = await createVolume(f.ctx, { name: 'v', volume_capabilities: caps, capacity_range: { required_bytes: 1 << 20 } });
    f.fs.failMount = true;
    await expect(nodeStageVolume(f.ctx, { volume_id: volume.volume_id, staging_target_path: join(dir, 'stage'), volume_capability: caps[0] })).rejects.toThrow(
      /injected/,
    );
    expect(f.loops.loops).toEqual([]);
    expect(f.store.volume(volume.volume_id)?.stage).toBeUndefined();
  });

  it('applies persisted mutable parameters to the new loop device', async () => {
    const f = setup();
    const { volume } = await createVolume(f.ctx, {
      name: 'v',
      volume_capabilities: caps,
      capacity_range: { required_bytes: 1 << 20 },
      mutable_parameters: { readAheadKB: '512' },
    });
    await nodeStageVolume(f.ctx, { volume_id: volume.volume_id, staging_target_path: join(dir, 'stage'), volume_capability: caps[0] });
    expect([...f.loops.readAhead.values()]).toEqual([512]);
    expect(f.fs.formatted.get('/dev/loop0')).toBe('ext4');
  });
});

describe('reconcile', () => {
  it('rolls back creating volumes and snapshots, undoes cut-short stages, detaches stray loops, removes orphans', async () => {
    const f = setup();
    const { ctx, store, loops } = f;
    const base = { parameters: {}, mutableParameters: {}, createdAt: 'x', publish: {}, capacityBytes: 1 };
    await store.putVolume({ ...base, id: 'v-half', name: 'half', status: 'creating' });
    writeFileSync(imagePath(ctx, 'v-half'), '');
    await store.putVolume({ ...base, id: 'v-stage', name: 'stage', status: 'ready', stage: { path: join(dir, 's'), block: false, complete: false } });
    writeFileSync(imagePath(ctx, 'v-stage'), '');
    await store.putVolume({ ...base, id: 'v-live', name: 'live', status: 'ready', stage: { path: join(dir, 'l'), block: true, complete: true } });
    writeFileSync(imagePath(ctx, 'v-live'), '');
    await store.putSnapshot({ id: 's-half', name: 's', sourceVolumeId: 'v-live', sizeBytes: 1, status: 'creating', createdAtMs: 0 });
    writeFileSync(join(dir, 'snapshots', 's-half.img'), '');
    writeFileSync(imagePath(ctx, 'v-orphan'), '');
    await loops.attach(imagePath(ctx, 'v-stage'));
    await loops.attach(imagePath(ctx, 'v-live'));
    await loops.attach(imagePath(ctx, 'v-gone'));
    await loops.attach(imagePath(ctx, 'v-orphan'));
    await loops.attach('/somewhere/else.img');
    // Rendered through another mount namespace: still the same file.
    loops.loops[1]!.backingFile = '/csi/images/v-live.img';

    const r = await reconcile(ctx);
    expect(r.rolledBackVolumes).toEqual(['v-half']);
    expect(r.rolledBackSnapshots).toEqual(['s-half']);
    expect(
      store
        .volumes()
        .map((v) => v.id)
        .sort(),
    ).toEqual(['v-live', 'v-stage']);
    expect(store.volume('v-stage')?.stage).toBeUndefined();
    // v-gone's image no longer exists: its device cannot be proven ours and is left alone.
    expect(loops.loops.map((l) => l.device)).toEqual(['/dev/loop1', '/dev/loop2', '/dev/loop4']);
    expect(r.detachedLoops.sort()).toEqual(['/dev/loop0', '/dev/loop3']);
    expect(existsSync(imagePath(ctx, 'v-orphan'))).toBe(false);
    expect(readdirSync(join(dir, 'snapshots'))).toEqual([]);
  });
});

describe('reconcile of inline ephemeral volumes', () => {
  it('keeps a ready one with its loop device and mount; tears down one cut short (mount, loop, image, target, record)', async () => {
    const f = setup();
    const { ctx, store, loops, mounts } = f;
    const base = { parameters: {}, mutableParameters: {}, createdAt: 'x', publish: {}, capacityBytes: 1 };
    const eph = (id: string, status: 'ready' | 'creating' | 'deleting') => ({
      ...base,
      id,
      name: `csi-${id}`,
      status,
      ephemeral: { handle: `csi-${id}`, targetPath: join(dir, 'pods', id), readonly: false, fsType: 'ext4' },
    });
    for (const [id, status] of [
      ['e-live', 'ready'],
      ['e-half', 'creating'],
      ['e-going', 'deleting'],
    ] as const) {
      await store.putVolume(eph(id, status));
      writeFileSync(imagePath(ctx, id), '');
      mkdirSync(join(dir, 'pods', id), { recursive: true });
      const dev = await loops.attach(imagePath(ctx, id));
      mounts.entries.push({ source: dev, target: join(dir, 'pods', id), fsType: 'ext4', options: [], root: '/' });
    }
    const r = await reconcile(ctx);
    expect(r.rolledBackVolumes.sort()).toEqual(['e-going', 'e-half']);
    expect(store.volumes().map((v) => v.id)).toEqual(['e-live']);
    expect(loops.loops.map((l) => l.backingFile)).toEqual([imagePath(ctx, 'e-live')]);
    expect(mounts.entries.map((m) => m.target)).toEqual([join(dir, 'pods', 'e-live')]);
    expect(readdirSync(join(dir, 'images'))).toEqual(['e-live.img']);
    expect(existsSync(join(dir, 'pods', 'e-half'))).toBe(false);
  });
});
