// ControllerPublishVolume / ControllerUnpublishVolume. A volume is a loop
// image on this node, so there is nothing to attach: "publishing" to a node
// only checks that the node is this one and records the attachment durably
// (the CO's view of who holds the volume survives a driver restart, and
// ListVolumes / ControllerGetVolume report it). DeleteVolume refuses while a
// record is present.
import type { CsiContext } from '../context.ts';
import { getVolume } from '../context.ts';
import { alreadyExists, failedPrecondition, notFound } from '../../lib/grpc/status-error.ts';
import { checkId, parseCapability, required, unsupportedReason } from '../validate.ts';
import type { AttachRecord, VolumeRecord } from '../state/records.ts';
import type { VolumeCapability } from '../types.ts';

export interface ControllerPublishRequest {
  volume_id?: string;
  node_id?: string;
  volume_capability?: VolumeCapability | null;
  readonly?: boolean;
}

export async function controllerPublishVolume(ctx: CsiContext, req: ControllerPublishRequest): Promise<{ publish_context: Record<string, string> }> {
  const id = checkId(req.volume_id, 'volume_id');
  // Not an id of ours: any string the CO uses; only equality with this node matters.
  const nodeId = required(req.node_id, 'node_id');
  const cap = parseCapability(req.volume_capability, 'volume_capability');
  return ctx.lock.run(id, async () => {
    const v = getVolume(ctx, id);
    // Volumes are node-local: no other node can ever reach this image.
    if (nodeId !== ctx.nodeId) throw notFound(`node ${nodeId} does not exist: volumes of this driver live on node ${ctx.nodeId} only`);
    const why = unsupportedReason(cap);
    if (why) throw failedPrecondition(why);
    const want: AttachRecord = { readonly: !!req.readonly || cap.readOnlyMode, block: cap.block, mode: cap.mode };
    const prev = v.attached?.[nodeId];
    if (prev) {
      if (prev.readonly !== want.readonly || prev.block !== want.block || prev.mode !== want.mode) {
        throw alreadyExists(`volume ${id} is already published to node ${nodeId} with another capability or readonly flag`);
      }
      return { publish_context: {} };
    }
    await ctx.store.putVolume({ ...v, attached: { ...v.attached, [nodeId]: want } });
    return { publish_context: {} };
  });
}

export async function controllerUnpublishVolume(ctx: CsiContext, req: { volume_id?: string; node_id?: string }): Promise<Record<string, never>> {
  const id = checkId(req.volume_id, 'volume_id');
  // node_id is optional (spec): empty means "from every node".
  const nodeId = req.node_id || undefined;
  return ctx.lock.run(id, async () => {
    // Idempotent: an unknown volume or one not published there is already unpublished.
    const v = ctx.store.volume(id);
    if (!v?.attached) return {};
    const rest = Object.fromEntries(Object.entries(v.attached).filter(([n]) => nodeId !== undefined && n !== nodeId));
    if (Object.keys(rest).length === Object.keys(v.attached).length) return {};
    const next: VolumeRecord = { ...v, attached: rest };
    if (!Object.keys(rest).length) delete next.attached;
    await ctx.store.putVolume(next);
    return {};
  });
}
