// DeleteVolume: idempotent (an unknown id is already deleted). A volume still
// staged or published is refused: deleting its image under a live mount
// would leave the workload writing into a deleted file.
import type { CsiContext } from '../context.ts';
import { imagePath } from '../context.ts';
import { failedPrecondition } from '../../lib/grpc/status-error.ts';
import { checkId } from '../validate.ts';
import { removeImage } from '../volumes/image.ts';
import { releaseImage } from '../volumes/loop.ts';

export async function deleteVolume(ctx: CsiContext, req: { volume_id?: string }): Promise<Record<string, never>> {
  const id = checkId(req.volume_id, 'volume_id');
  return ctx.lock.run(id, async () => {
    const v = ctx.store.volume(id);
    // Inline ephemeral volumes are not the Controller's: they go with their pod (NodeUnpublish).
    if (!v || v.ephemeral) return {};
    if (Object.keys(v.attached ?? {}).length > 0)
      throw failedPrecondition(`volume ${id} is still controller-published to node ${Object.keys(v.attached ?? {}).join(', ')}; ControllerUnpublish it first`);
    if (Object.keys(v.publish).length > 0 || v.stage?.complete) {
      throw failedPrecondition(`volume ${id} is still ${Object.keys(v.publish).length ? 'published' : 'staged'} on node; unpublish and unstage it first`);
    }
    const img = imagePath(ctx, id);
    // Never OK while a loop device holds the image: removing it under a live
    // mount leaves a workload writing into a deleted file. A device mounted
    // here is refused before anything changes; any other is detached, and
    // one that stays (open elsewhere) refuses the delete.
    const devices = await ctx.loops.findAll(img);
    const mounted = devices.length ? (await ctx.mounts.list()).find((m) => devices.includes(m.source)) : undefined;
    if (mounted) throw failedPrecondition(`volume ${id} is still mounted at ${mounted.target} (loop device ${mounted.source}); unstage it first`);
    const busy = devices.length ? await releaseImage(ctx.loops, img) : [];
    if (busy.length) throw failedPrecondition(`volume ${id} is still held by loop device ${busy.join(', ')} (open elsewhere); not deleted`);
    // The record goes first (durably), then the image: a crash in between
    // leaves an image no record owns, which start-up reconcile removes as an
    // orphan; the CO's retried Delete finds no volume and answers OK. (One
    // record removal instead of a 'deleting' record write and a removal.)
    await ctx.store.removeVolume(id);
    await removeImage(img);
    return {};
  });
}
