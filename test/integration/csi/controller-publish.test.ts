// ControllerPublish/Unpublish over gRPC against the real driver: the full
// Create → ControllerPublish → Stage → Publish → teardown → ControllerUnpublish
// → Delete order, the attachment surviving a restart, and DeleteVolume
// refused while attached.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { startHarness, MiB, type Harness } from './harness.ts';
import { codeOf, mountCap, blockCap, deleteVolumeRetrying } from './client.ts';
import { mountsUnder } from './host.ts';
import { liveLoopsUnder } from './live-loops.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('cpub');
});
afterAll(async () => {
  await h?.close();
});

const published = async (id: string) => (await h.client.controller.ControllerGetVolume({ volume_id: id })).status.published_node_ids;

describe('ControllerPublishVolume / ControllerUnpublishVolume', () => {
  it.each([
    ['mount', mountCap()],
    ['block', blockCap()],
  ])('%s: the full attach → stage → publish → teardown → detach → delete order leaves nothing', async (name, cap) => {
    const { volume } = await h.client.controller.CreateVolume({ name: `cp-${name}`, capacity_range: { required_bytes: 16 * MiB }, volume_capabilities: [cap] });
    const id = volume.volume_id;
    const { node_id } = await h.client.node.NodeGetInfo({});
    expect(await h.client.controller.ControllerPublishVolume({ volume_id: id, node_id, volume_capability: cap })).toEqual({ publish_context: {} });
    expect(await published(id)).toEqual([node_id]);

    const staging = join(h.dir, 'staging', name);
    const target = join(h.dir, 'pods', name, 'vol');
    execFileSync('mkdir', ['-p', staging]);
    await h.client.node.NodeStageVolume({ volume_id: id, staging_target_path: staging, volume_capability: cap });
    await h.client.node.NodePublishVolume({ volume_id: id, staging_target_path: staging, target_path: target, volume_capability: cap });
    await h.client.node.NodeUnpublishVolume({ volume_id: id, target_path: target });
    await h.client.node.NodeUnstageVolume({ volume_id: id, staging_target_path: staging });

    expect(await codeOf(h.client.controller.DeleteVolume({ volume_id: id }))).toBe('FAILED_PRECONDITION');
    await h.client.controller.ControllerUnpublishVolume({ volume_id: id, node_id });
    expect(await published(id)).toEqual([]);
    await deleteVolumeRetrying(h.client.controller, id);
    expect(liveLoopsUnder(h.dir)).toEqual([]);
    expect(mountsUnder(h.dir)).toEqual([]);
  });

  it('the attachment survives a driver restart, and a changed readonly flag is refused with ALREADY_EXISTS', async () => {
    const cap = mountCap();
    const { volume } = await h.client.controller.CreateVolume({ name: 'cp-restart', capacity_range: { required_bytes: 8 * MiB }, volume_capabilities: [cap] });
    const id = volume.volume_id;
    await h.client.controller.ControllerPublishVolume({ volume_id: id, node_id: 'test-node', volume_capability: cap, readonly: true });
    await h.restart();
    expect(await published(id)).toEqual(['test-node']);
    const listed = (await h.client.controller.ListVolumes({})).entries.find((e: { volume: { volume_id: string } }) => e.volume.volume_id === id);
    expect(listed.status.published_node_ids).toEqual(['test-node']);
    // Same request again: idempotent. Other readonly flag: a conflict.
    expect(
      await codeOf(h.client.controller.ControllerPublishVolume({ volume_id: id, node_id: 'test-node', volume_capability: cap, readonly: true })),
    ).toBeUndefined();
    expect(await codeOf(h.client.controller.ControllerPublishVolume({ volume_id: id, node_id: 'test-node', volume_capability: cap, readonly: false }))).toBe(
      'ALREADY_EXISTS',
    );
    await h.client.controller.ControllerUnpublishVolume({ volume_id: id, node_id: 'test-node' });
    expect(await codeOf(h.client.controller.ControllerUnpublishVolume({ volume_id: id, node_id: 'test-node' }))).toBeUndefined();
    await deleteVolumeRetrying(h.client.controller, id);
  });
});
