// ControllerExpandVolume. csi-resizer runs leader-elected on any node, so this
// call may reach a driver that does not hold the volume: the image is grown
// where it lives, by NodeExpandVolume (kubelet calls it on the volume's node,
// with the new size, for mount and block volumes alike). Here we validate
// what any node can, and answer node_expansion_required.
//
// When the volume *is* here, the image is grown at once as well: a volume not
// in use then gets its filesystem grown offline at its next Stage, which needs
// no CAP_SYS_RESOURCE (online ext4 growth does). Both paths are idempotent,
// so it does not matter which node's controller the resizer reached.
import type { CsiContext } from '../context.ts';
import { imagePath } from '../context.ts';
import { invalidArgument, outOfRange } from '../../lib/grpc/status-error.ts';
import { checkId, parseCapability, sizeFor, unsupportedReason } from '../validate.ts';
import { growImage, materializeImage } from '../volumes/image.ts';
import type { CapacityRange, VolumeCapability } from '../types.ts';
import { withRoomFor } from '../volumes/capacity.ts';

export async function controllerExpandVolume(
  ctx: CsiContext,
  req: { volume_id?: string; capacity_range?: CapacityRange | null; volume_capability?: VolumeCapability | null },
) {
  const id = checkId(req.volume_id, 'volume_id');
  if (!req.capacity_range) throw invalidArgument('capacity_range is required');
  const cap = req.volume_capability ? parseCapability(req.volume_capability, 'volume_capability') : undefined;
  const why = cap && unsupportedReason(cap);
  if (why) throw invalidArgument(why);
  const want = sizeFor(req.capacity_range);
  return ctx.lock.run(id, async () => {
    const v = ctx.store.volume(id);
    // Not on this node (or not a CO volume): its own node grows it in NodeExpandVolume.
    if (v?.status !== 'ready' || v.ephemeral) return { capacity_bytes: want, node_expansion_required: true };
    const block = cap?.block ?? v.stage?.block ?? false;
    if (want <= v.capacityBytes) return { capacity_bytes: v.capacityBytes, node_expansion_required: true };
    // The growth is a new promise: the disk policy (capacity.ts) must allow it.
    await withRoomFor(ctx, { id, more: want - v.capacityBytes, total: want }, outOfRange, async () => {
      const img = imagePath(ctx, id);
      await materializeImage(img, v);
      await growImage(img, want);
      const dev = await ctx.loops.find(img);
      if (dev) await ctx.loops.refreshSize(dev);
      await ctx.store.putVolume({ ...v, capacityBytes: want, ...(block ? {} : { fsGrowPending: true }) });
    });
    return { capacity_bytes: want, node_expansion_required: true };
  });
}
