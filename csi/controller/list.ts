// ListVolumes, ControllerGetVolume and GetCapacity: read-only views of the
// state store and the data dir's free space.
import type { CsiContext } from '../context.ts';
import { getVolume, toCsiVolume, TOPOLOGY_KEY } from '../context.ts';
import { checkId, parseCapabilities, unsupportedReason } from '../validate.ts';
import { checkParameters } from '../parameters.ts';
import { page } from './paging.ts';
import { imageExists } from '../volumes/image.ts';
import { capacityView } from '../volumes/capacity.ts';
import type { VolumeRecord } from '../state/records.ts';
import type { Topology, VolumeCapability, VolumeCondition } from '../types.ts';
import { imagePath } from '../context.ts';
import { MAX_VOLUME_BYTES } from '../validate.ts';

async function condition(ctx: CsiContext, v: VolumeRecord): Promise<VolumeCondition> {
  // A blank volume's image is made at its first use (create-volume.ts): none yet is normal.
  if (!v.blank && !(await imageExists(imagePath(ctx, v.id)))) return { abnormal: true, message: `image file of ${v.id} is missing from the data dir` };
  return { abnormal: false, message: 'image present' };
}

async function entry(ctx: CsiContext, v: VolumeRecord) {
  return {
    volume: toCsiVolume(ctx, v),
    status: {
      published_node_ids: Object.keys(v.publish).length || Object.keys(v.attached ?? {}).length ? [ctx.nodeId] : [],
      volume_condition: await condition(ctx, v),
    },
  };
}

export async function listVolumes(ctx: CsiContext, req: { max_entries?: number; starting_token?: string }) {
  const ready = ctx.store.volumes().filter((v) => v.status === 'ready' && !v.ephemeral);
  const { items, next } = page(ready, req.max_entries, req.starting_token);
  return { entries: await Promise.all(items.map((v) => entry(ctx, v))), next_token: next };
}

export async function controllerGetVolume(ctx: CsiContext, req: { volume_id?: string }) {
  const id = checkId(req.volume_id, 'volume_id');
  return entry(ctx, getVolume(ctx, id));
}

export async function getCapacity(
  ctx: CsiContext,
  req: { volume_capabilities?: VolumeCapability[]; parameters?: Record<string, string>; accessible_topology?: Topology | null },
) {
  // Capacity for capabilities or a topology we cannot serve is zero, not an error (spec).
  if (req.volume_capabilities?.length) {
    const caps = parseCapabilities(req.volume_capabilities);
    if (caps.some((c) => unsupportedReason(c))) return { available_capacity: 0, maximum_volume_size: null, minimum_volume_size: null };
  }
  checkParameters(req.parameters);
  const seg = req.accessible_topology?.segments;
  if (seg && Object.keys(seg).length && seg[TOPOLOGY_KEY] !== ctx.nodeId) {
    return { available_capacity: 0, maximum_volume_size: null, minimum_volume_size: null };
  }
  // What CreateVolume would accept right now (volumes/capacity.ts), not the
  // raw free space: sparse images already promised part of it.
  const { availableBytes } = await capacityView(ctx);
  return {
    available_capacity: availableBytes,
    maximum_volume_size: { value: Math.min(availableBytes, MAX_VOLUME_BYTES) },
    minimum_volume_size: { value: 4096 },
  };
}
