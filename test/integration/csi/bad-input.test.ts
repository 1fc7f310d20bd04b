// Bad input: every malformed, missing, unknown, absurd or traversal request is
// answered with the code the CSI spec names, and changes nothing on disk.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readdirSync, readFileSync, lstatSync, mkdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { startHarness, MiB, type Harness } from './harness.ts';
import { codeOf, mountCap, blockCap } from './client.ts';

let h: Harness;
let volId: string;
let staging: string;

// Every path under the test dir with its type, mode, size and, for files, a
// sha256 of the content: a handler that rewrote a record (or scribbled on an
// image) with a same-sized value would slip past names and sizes alone.
function tree(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    const st = lstatSync(p);
    const mode = (st.mode & 0o7777).toString(8);
    if (e.isFile()) out.push(`${p} file ${mode} ${st.size} ${createHash('sha256').update(readFileSync(p)).digest('hex')}`);
    else out.push(`${p} ${e.isDirectory() ? 'dir' : 'other'} ${mode}`);
    // Not the spare pool's contents: it refills in the background after the
    // setup's good CreateVolume (csi/volumes/spares.ts), whatever the bad call does.
    if (e.isDirectory() && !(e.name === 'spares' && dir.endsWith('/data'))) out.push(...tree(p));
  }
  return out.sort();
}

beforeAll(async () => {
  h = await startHarness('bad', { maxVolumes: 2 });
  volId = (await h.client.controller.CreateVolume({ name: 'good', capacity_range: { required_bytes: 8 * MiB }, volume_capabilities: [mountCap()] })).volume
    .volume_id;
  staging = join(h.dir, 'staging');
  mkdirSync(staging);
});
afterAll(async () => {
  await h?.close();
});

const caps = [mountCap()];
const EiB = 2 ** 60;

type Case = [string, string, (h: Harness) => Promise<unknown>];
const cases: Case[] = [
  ['CreateVolume without name', 'INVALID_ARGUMENT', (h) => h.client.controller.CreateVolume({ volume_capabilities: caps })],
  ['CreateVolume without capabilities', 'INVALID_ARGUMENT', (h) => h.client.controller.CreateVolume({ name: 'x' })],
  [
    'CreateVolume with a capability lacking access_mode',
    'INVALID_ARGUMENT',
    (h) => h.client.controller.CreateVolume({ name: 'x', volume_capabilities: [{ mount: {} }] }),
  ],
  [
    'CreateVolume MULTI_NODE_MULTI_WRITER',
    'INVALID_ARGUMENT',
    (h) => h.client.controller.CreateVolume({ name: 'x', volume_capabilities: [mountCap('ext4', 'MULTI_NODE_MULTI_WRITER')] }),
  ],
  [
    'CreateVolume MULTI_NODE_READER_ONLY block',
    'INVALID_ARGUMENT',
    (h) => h.client.controller.CreateVolume({ name: 'x', volume_capabilities: [blockCap('MULTI_NODE_READER_ONLY')] }),
  ],
  [
    'CreateVolume of 1 EiB',
    'OUT_OF_RANGE',
    (h) => h.client.controller.CreateVolume({ name: 'x', volume_capabilities: caps, capacity_range: { required_bytes: EiB } }),
  ],
  [
    'CreateVolume larger than the node has left (disk policy)',
    'RESOURCE_EXHAUSTED',
    (h) => h.client.controller.CreateVolume({ name: 'x', volume_capabilities: caps, capacity_range: { required_bytes: 60 * 1024 * 1024 * MiB } }),
  ],
  [
    'CreateVolume with negative size',
    'INVALID_ARGUMENT',
    (h) => h.client.controller.CreateVolume({ name: 'x', volume_capabilities: caps, capacity_range: { required_bytes: -1 } }),
  ],
  [
    'CreateVolume required > limit',
    'INVALID_ARGUMENT',
    (h) => h.client.controller.CreateVolume({ name: 'x', volume_capabilities: caps, capacity_range: { required_bytes: 2 * MiB, limit_bytes: MiB } }),
  ],
  [
    'CreateVolume fsType btrfs',
    'INVALID_ARGUMENT',
    (h) => h.client.controller.CreateVolume({ name: 'x', volume_capabilities: caps, parameters: { fsType: 'btrfs' } }),
  ],
  [
    'CreateVolume unknown parameter',
    'INVALID_ARGUMENT',
    (h) => h.client.controller.CreateVolume({ name: 'x', volume_capabilities: caps, parameters: { colour: 'blue' } }),
  ],
  [
    'CreateVolume unknown mutable parameter',
    'INVALID_ARGUMENT',
    (h) => h.client.controller.CreateVolume({ name: 'x', volume_capabilities: caps, mutable_parameters: { iops: '9' } }),
  ],
  ['CreateVolume name with control characters', 'INVALID_ARGUMENT', (h) => h.client.controller.CreateVolume({ name: 'a\u0001b', volume_capabilities: caps })],
  [
    'CreateVolume from an unknown snapshot',
    'NOT_FOUND',
    (h) => h.client.controller.CreateVolume({ name: 'x', volume_capabilities: caps, volume_content_source: { snapshot: { snapshot_id: 's-0000' } } }),
  ],
  [
    'CreateVolume from a traversal snapshot id',
    'INVALID_ARGUMENT',
    (h) =>
      h.client.controller.CreateVolume({ name: 'x', volume_capabilities: caps, volume_content_source: { snapshot: { snapshot_id: '../../../etc/passwd' } } }),
  ],
  [
    'CreateVolume cloning a traversal volume id',
    'INVALID_ARGUMENT',
    (h) => h.client.controller.CreateVolume({ name: 'x', volume_capabilities: caps, volume_content_source: { volume: { volume_id: '../images/x' } } }),
  ],
  [
    'CreateVolume for another node’s topology',
    'RESOURCE_EXHAUSTED',
    (h) =>
      h.client.controller.CreateVolume({
        name: 'x',
        volume_capabilities: caps,
        accessibility_requirements: { requisite: [{ segments: { 'topology.hostplane.io/node': 'elsewhere' } }] },
      }),
  ],
  [
    'CreateVolume same name, other capacity',
    'ALREADY_EXISTS',
    (h) => h.client.controller.CreateVolume({ name: 'good', volume_capabilities: caps, capacity_range: { required_bytes: 16 * MiB } }),
  ],
  ['DeleteVolume without id', 'INVALID_ARGUMENT', (h) => h.client.controller.DeleteVolume({})],
  ['DeleteVolume traversal id', 'INVALID_ARGUMENT', (h) => h.client.controller.DeleteVolume({ volume_id: '../state/volumes/x' })],
  // (ControllerExpandVolume of an id this node does not hold is not an error: see node-local.test.ts.)
  ['ControllerExpandVolume without range', 'INVALID_ARGUMENT', () => h.client.controller.ControllerExpandVolume({ volume_id: volId })],
  [
    'ControllerExpandVolume to 1 EiB',
    'OUT_OF_RANGE',
    () => h.client.controller.ControllerExpandVolume({ volume_id: volId, capacity_range: { required_bytes: EiB } }),
  ],
  [
    'ControllerModifyVolume unknown key',
    'INVALID_ARGUMENT',
    () => h.client.controller.ControllerModifyVolume({ volume_id: volId, mutable_parameters: { fake: '1' } }),
  ],
  [
    'ControllerModifyVolume readAheadKB not a number',
    'INVALID_ARGUMENT',
    () => h.client.controller.ControllerModifyVolume({ volume_id: volId, mutable_parameters: { readAheadKB: '1;rm -rf /' } }),
  ],
  ['ControllerGetVolume unknown', 'NOT_FOUND', (h) => h.client.controller.ControllerGetVolume({ volume_id: 'v-nope' })],
  [
    'ValidateVolumeCapabilities unknown',
    'NOT_FOUND',
    (h) => h.client.controller.ValidateVolumeCapabilities({ volume_id: 'v-nope', volume_capabilities: caps }),
  ],
  ['ListVolumes bad token', 'ABORTED', (h) => h.client.controller.ListVolumes({ starting_token: 'garbage' })],
  ['ListSnapshots bad token', 'ABORTED', (h) => h.client.controller.ListSnapshots({ starting_token: 'after:../x' })],
  ['CreateSnapshot of an unknown volume', 'NOT_FOUND', (h) => h.client.controller.CreateSnapshot({ name: 'sx', source_volume_id: 'v-nope' })],
  ['CreateSnapshot without name', 'INVALID_ARGUMENT', () => h.client.controller.CreateSnapshot({ source_volume_id: volId })],
  [
    'NodeStageVolume unknown volume',
    'NOT_FOUND',
    () => h.client.node.NodeStageVolume({ volume_id: 'v-nope', staging_target_path: staging, volume_capability: mountCap() }),
  ],
  [
    'NodeStageVolume traversal id',
    'INVALID_ARGUMENT',
    () => h.client.node.NodeStageVolume({ volume_id: '..', staging_target_path: staging, volume_capability: mountCap() }),
  ],
  [
    'NodeStageVolume relative staging path',
    'INVALID_ARGUMENT',
    () => h.client.node.NodeStageVolume({ volume_id: volId, staging_target_path: 'rel/path', volume_capability: mountCap() }),
  ],
  [
    'NodeStageVolume staging path with ..',
    'INVALID_ARGUMENT',
    () => h.client.node.NodeStageVolume({ volume_id: volId, staging_target_path: `${staging}/../../etc`, volume_capability: mountCap() }),
  ],
  ['NodeStageVolume without capability', 'INVALID_ARGUMENT', () => h.client.node.NodeStageVolume({ volume_id: volId, staging_target_path: staging })],
  [
    'NodeStageVolume multi-node mode',
    'FAILED_PRECONDITION',
    () => h.client.node.NodeStageVolume({ volume_id: volId, staging_target_path: staging, volume_capability: mountCap('ext4', 'MULTI_NODE_MULTI_WRITER') }),
  ],
  [
    'NodePublishVolume before Stage',
    'FAILED_PRECONDITION',
    () =>
      h.client.node.NodePublishVolume({ volume_id: volId, staging_target_path: staging, target_path: join(h.dir, 'pods', 'p'), volume_capability: mountCap() }),
  ],
  ['NodeUnpublishVolume unknown volume', 'NOT_FOUND', () => h.client.node.NodeUnpublishVolume({ volume_id: 'v-nope', target_path: join(h.dir, 'pods', 'p') })],
  ['NodeGetVolumeStats relative path', 'NOT_FOUND', () => h.client.node.NodeGetVolumeStats({ volume_id: volId, volume_path: 'some/path' })],
  ['NodeGetVolumeStats without path', 'INVALID_ARGUMENT', () => h.client.node.NodeGetVolumeStats({ volume_id: volId })],
  ['NodeExpandVolume unknown volume', 'NOT_FOUND', () => h.client.node.NodeExpandVolume({ volume_id: 'v-nope', volume_path: staging })],
  [
    'ControllerPublishVolume without volume id',
    'INVALID_ARGUMENT',
    () => h.client.controller.ControllerPublishVolume({ node_id: 'test-node', volume_capability: mountCap() }),
  ],
  [
    'ControllerPublishVolume without node id',
    'INVALID_ARGUMENT',
    () => h.client.controller.ControllerPublishVolume({ volume_id: volId, volume_capability: mountCap() }),
  ],
  [
    'ControllerPublishVolume without capability',
    'INVALID_ARGUMENT',
    () => h.client.controller.ControllerPublishVolume({ volume_id: volId, node_id: 'test-node' }),
  ],
  [
    'ControllerPublishVolume traversal volume id',
    'INVALID_ARGUMENT',
    () => h.client.controller.ControllerPublishVolume({ volume_id: '../state/x', node_id: 'test-node', volume_capability: mountCap() }),
  ],
  [
    'ControllerPublishVolume unknown volume',
    'NOT_FOUND',
    () => h.client.controller.ControllerPublishVolume({ volume_id: 'v-nope', node_id: 'test-node', volume_capability: mountCap() }),
  ],
  [
    'ControllerPublishVolume to another node',
    'NOT_FOUND',
    () => h.client.controller.ControllerPublishVolume({ volume_id: volId, node_id: 'some-fake-node-id', volume_capability: mountCap() }),
  ],
  [
    'ControllerPublishVolume multi-node mode',
    'FAILED_PRECONDITION',
    () =>
      h.client.controller.ControllerPublishVolume({ volume_id: volId, node_id: 'test-node', volume_capability: mountCap('ext4', 'MULTI_NODE_MULTI_WRITER') }),
  ],
  ['ControllerUnpublishVolume without volume id', 'INVALID_ARGUMENT', () => h.client.controller.ControllerUnpublishVolume({ node_id: 'test-node' })],
  [
    'ControllerUnpublishVolume traversal volume id',
    'INVALID_ARGUMENT',
    () => h.client.controller.ControllerUnpublishVolume({ volume_id: '..', node_id: 'test-node' }),
  ],
];

describe('bad input', () => {
  it.each(cases)('%s → %s, nothing changed on disk', async (_name, code, call) => {
    const before = tree(h.dir);
    expect(await codeOf(call(h))).toBe(code);
    expect(tree(h.dir)).toEqual(before);
  });

  it('a name full of "../" still lands inside the data dir (ids are hashes of names)', async () => {
    const { volume } = await h.client.controller.CreateVolume({
      name: '../../../../etc/evil',
      volume_capabilities: caps,
      capacity_range: { required_bytes: MiB },
    });
    expect(volume.volume_id).toMatch(/^v-[0-9a-f]{32}$/);
    // Its record (its image comes at first use) is in the data dir's own state dir.
    expect(readdirSync(join(h.dataDir, 'state', 'volumes'))).toContain(`${volume.volume_id}.json`);
    // maxVolumes is 2 and two exist now: the node is full.
    expect(await codeOf(h.client.controller.CreateVolume({ name: 'third', volume_capabilities: caps, capacity_range: { required_bytes: MiB } }))).toBe(
      'RESOURCE_EXHAUSTED',
    );
    await h.client.controller.DeleteVolume({ volume_id: volume.volume_id });
  });

  it('ControllerUnpublishVolume of an unknown volume, or one never published, succeeds (already unpublished)', async () => {
    const before = tree(h.dir);
    expect(await codeOf(h.client.controller.ControllerUnpublishVolume({ volume_id: 'v-never-existed', node_id: 'test-node' }))).toBeUndefined();
    expect(await codeOf(h.client.controller.ControllerUnpublishVolume({ volume_id: volId, node_id: 'test-node' }))).toBeUndefined();
    expect(tree(h.dir)).toEqual(before);
  });

  it('DeleteVolume of an unknown id succeeds (already gone)', async () => {
    expect(await codeOf(h.client.controller.DeleteVolume({ volume_id: 'v-never-existed' }))).toBeUndefined();
  });
});
