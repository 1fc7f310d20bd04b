// Volumes live on one node; sidecars that call the Controller service through
// leader election (csi-resizer) may run on any node. Two drivers, two data
// dirs: "node A" holds the volume, "node B" is where the resizer happens to
// run. Every operation must end up where the volume is, or fail with the
// spec's code saying why.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startHarness, MiB, type Harness } from './harness.ts';
import { codeOf, mountCap, blockCap, deleteVolumeRetrying } from './client.ts';

let a: Harness;
let b: Harness;
beforeAll(async () => {
  a = await startHarness('nodea');
  b = await startHarness('nodeb');
});
afterAll(async () => {
  await a?.close();
  await b?.close();
});

const imageSize = (h: Harness, id: string) => statSync(join(h.dataDir, 'images', `${id}.img`)).size;
const dfSize = (p: string) => Number(execFileSync('df', ['-B1', '--output=size', p], { encoding: 'utf8' }).split('\n')[1]);
const ls = (d: string) => {
  try {
    return readdirSync(d);
  } catch {
    return [];
  }
};
const listing = (h: Harness) => [...ls(join(h.dataDir, 'images')), ...ls(join(h.dataDir, 'state', 'volumes')), ...ls(join(h.dataDir, 'snapshots'))].sort();

async function stageAndPublish(h: Harness, id: string, cap: object, name: string) {
  const staging = join(h.dir, 'staging', name);
  const target = join(h.dir, 'pods', name, 'vol');
  mkdirSync(staging, { recursive: true });
  await h.client.node.NodeStageVolume({ volume_id: id, staging_target_path: staging, volume_capability: cap });
  await h.client.node.NodePublishVolume({ volume_id: id, staging_target_path: staging, target_path: target, volume_capability: cap });
  return { staging, target };
}

async function teardown(h: Harness, id: string, p: { staging: string; target: string }) {
  await h.client.node.NodeUnpublishVolume({ volume_id: id, target_path: p.target });
  await h.client.node.NodeUnstageVolume({ volume_id: id, staging_target_path: p.staging });
  await deleteVolumeRetrying(h.client.controller, id);
}

describe('expansion when the resizer runs on another node', () => {
  it('mount (xfs): B answers node_expansion_required without touching anything; NodeExpand on A grows image and filesystem', async () => {
    const { volume } = await a.client.controller.CreateVolume({
      name: 'far-xfs',
      capacity_range: { required_bytes: 320 * MiB },
      volume_capabilities: [mountCap('xfs')],
    });
    const id = volume.volume_id;
    const p = await stageAndPublish(a, id, mountCap('xfs'), 'far-xfs');
    writeFileSync(join(p.target, 'kept'), 'yes');
    const before = dfSize(p.target);
    const bBefore = listing(b);

    const r = await b.client.controller.ControllerExpandVolume({
      volume_id: id,
      capacity_range: { required_bytes: 640 * MiB },
      volume_capability: mountCap('xfs'),
    });
    expect(r).toEqual({ capacity_bytes: 640 * MiB, node_expansion_required: true });
    expect(listing(b)).toEqual(bBefore);
    expect(imageSize(a, id)).toBe(320 * MiB);

    // kubelet on A: NodeExpandVolume with the new size.
    const n = await a.client.node.NodeExpandVolume({
      volume_id: id,
      volume_path: p.target,
      staging_target_path: p.staging,
      capacity_range: { required_bytes: 640 * MiB },
      volume_capability: mountCap('xfs'),
    });
    expect(n.capacity_bytes).toBe(640 * MiB);
    expect(imageSize(a, id)).toBe(640 * MiB);
    expect(dfSize(p.target)).toBeGreaterThan(before * 1.8);
    expect(readFileSync(join(p.target, 'kept'), 'utf8')).toBe('yes');
    const cv = await a.client.controller.ControllerGetVolume({ volume_id: id });
    expect(cv.volume.capacity_bytes).toBe(640 * MiB);
    // Again (kubelet retries): nothing more to do.
    await a.client.node.NodeExpandVolume({ volume_id: id, volume_path: p.target, capacity_range: { required_bytes: 640 * MiB } });
    expect(imageSize(a, id)).toBe(640 * MiB);
    await teardown(a, id, p);
  });

  it('block: NodeExpand on A grows the image and the published device', async () => {
    const { volume } = await a.client.controller.CreateVolume({
      name: 'far-blk',
      capacity_range: { required_bytes: 16 * MiB },
      volume_capabilities: [blockCap()],
    });
    const id = volume.volume_id;
    const p = await stageAndPublish(a, id, blockCap(), 'far-blk');
    const r = await b.client.controller.ControllerExpandVolume({ volume_id: id, capacity_range: { required_bytes: 40 * MiB }, volume_capability: blockCap() });
    expect(r.node_expansion_required).toBe(true);
    await a.client.node.NodeExpandVolume({ volume_id: id, volume_path: p.target, capacity_range: { required_bytes: 40 * MiB }, volume_capability: blockCap() });
    expect(Number(execFileSync('blockdev', ['--getsize64', p.target], { encoding: 'utf8' }))).toBe(40 * MiB);
    await teardown(a, id, p);
  });

  it('NodeExpand beyond the free space of the data dir → OUT_OF_RANGE, image unchanged', async () => {
    const { volume } = await a.client.controller.CreateVolume({
      name: 'far-huge',
      capacity_range: { required_bytes: 16 * MiB },
      volume_capabilities: [blockCap()],
    });
    const p = await stageAndPublish(a, volume.volume_id, blockCap(), 'far-huge');
    expect(
      await codeOf(a.client.node.NodeExpandVolume({ volume_id: volume.volume_id, volume_path: p.target, capacity_range: { required_bytes: 60 * 2 ** 40 } })),
    ).toBe('OUT_OF_RANGE');
    expect(imageSize(a, volume.volume_id)).toBe(16 * MiB);
    await teardown(a, volume.volume_id, p);
  });

  it.each([
    ['no capacity_range', { volume_id: 'v-0123' }, 'INVALID_ARGUMENT'],
    ['a malformed id', { volume_id: '../x', capacity_range: { required_bytes: MiB } }, 'INVALID_ARGUMENT'],
    ['1 EiB', { volume_id: 'v-0123', capacity_range: { required_bytes: 2 ** 60 } }, 'OUT_OF_RANGE'],
    [
      'a multi-node capability',
      { volume_id: 'v-0123', capacity_range: { required_bytes: MiB }, volume_capability: mountCap('ext4', 'MULTI_NODE_MULTI_WRITER') },
      'INVALID_ARGUMENT',
    ],
  ])('ControllerExpandVolume with %s fails on any node → %s', async (_n, req, code) => {
    expect(await codeOf(b.client.controller.ControllerExpandVolume(req))).toBe(code);
  });
});

describe('clones, restores and snapshots of a volume on another node', () => {
  it('CreateVolume on B from A’s snapshot or volume → NOT_FOUND saying it is node-local; CreateSnapshot on B → NOT_FOUND; nothing made on B', async () => {
    const { volume } = await a.client.controller.CreateVolume({ name: 'src', capacity_range: { required_bytes: 16 * MiB }, volume_capabilities: [blockCap()] });
    const { snapshot } = await a.client.controller.CreateSnapshot({ name: 'src-snap', source_volume_id: volume.volume_id });
    const bBefore = listing(b);
    for (const source of [{ snapshot: { snapshot_id: snapshot.snapshot_id } }, { volume: { volume_id: volume.volume_id } }]) {
      const call = b.client.controller.CreateVolume({
        name: 'copy',
        capacity_range: { required_bytes: 16 * MiB },
        volume_capabilities: [blockCap()],
        volume_content_source: source,
      });
      await expect(call).rejects.toMatchObject({ details: expect.stringMatching(/not on node .*node-local/) });
      expect(
        await codeOf(
          b.client.controller.CreateVolume({
            name: 'copy',
            capacity_range: { required_bytes: 16 * MiB },
            volume_capabilities: [blockCap()],
            volume_content_source: source,
          }),
        ),
      ).toBe('NOT_FOUND');
    }
    expect(await codeOf(b.client.controller.CreateSnapshot({ name: 'b-snap', source_volume_id: volume.volume_id }))).toBe('NOT_FOUND');
    expect(listing(b)).toEqual(bBefore);
    // On A, where they live, both work.
    const restored = await a.client.controller.CreateVolume({
      name: 'copy',
      capacity_range: { required_bytes: 16 * MiB },
      volume_capabilities: [blockCap()],
      volume_content_source: { snapshot: { snapshot_id: snapshot.snapshot_id } },
    });
    await deleteVolumeRetrying(a.client.controller, restored.volume.volume_id);
    await a.client.controller.DeleteSnapshot({ snapshot_id: snapshot.snapshot_id });
    await deleteVolumeRetrying(a.client.controller, volume.volume_id);
  });
});
