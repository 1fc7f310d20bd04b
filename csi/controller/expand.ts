// ControllerExpandVolume: grow the image file (never shrink: a smaller
// request is already satisfied). If the volume is attached right now, the
// loop device is told its new size at once; the filesystem inside is grown
// by NodeExpandVolume on the node (online).
import type { CsiContext } from '../context.ts';
import { getVolume, imagePath } from '../context.ts';
import { invalidArgument, outOfRange } from '../../lib/grpc/status-error.ts';
import { checkId, parseCapability, sizeFor } from '../validate.ts';
import { growImage } from '../volumes/image.ts';
import type { CapacityRange, VolumeCapability } from '../types.ts';
import { withRoomFor } from './capacity.ts';

export async function controllerExpandVolume(ctx: CsiContext, req: { volume_id?: string; capacity_range?: CapacityRange | null; volume_capability?: VolumeCapability | null }) {
  const id = checkId(req.volume_id, 'volume_id');
  if (!req.capacity_range) throw invalidArgument('capacity_range is required');
  const cap = req.volume_capability ? parseCapability(req.volume_capability, 'volume_capability') : undefined;
  const want = sizeFor(req.capacity_range);
  return ctx.lock.run(id, async () => {
    const v = getVolume(ctx, id);
    const block = cap?.block ?? v.stage?.block ?? false;
    if (want <= v.capacityBytes) return { capacity_bytes: v.capacityBytes, node_expansion_required: false };
    // The growth is a new promise: the disk policy (capacity.ts) must allow it.
    await withRoomFor(ctx, { id, more: want - v.capacityBytes, total: want }, outOfRange, async () => {
      const img = imagePath(ctx, id);
      await growImage(img, want);
      const dev = await ctx.loops.find(img);
      if (dev) await ctx.loops.refreshSize(dev);
      await ctx.store.putVolume({ ...v, capacityBytes: want, ...(block ? {} : { fsGrowPending: true }) });
    });
    return { capacity_bytes: want, node_expansion_required: !block };
  });
}
