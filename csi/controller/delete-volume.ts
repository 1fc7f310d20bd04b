// DeleteVolume: idempotent (an unknown id is already deleted). A volume still
// staged or published is refused: deleting its image under a live mount
// would leave the workload writing into a deleted file.
import type { CsiContext } from '../context.ts';
import { imagePath } from '../context.ts';
import { failedPrecondition } from '../../lib/grpc/status-error.ts';
import { checkId } from '../validate.ts';
import { removeImage } from '../volumes/image.ts';
import { releaseImage } from '../volumes/loop.ts';
import { StateDiskFullError } from '../state/store.ts';

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
    const mounted = (await ctx.mounts.list()).find((m) => devices.includes(m.source));
    if (mounted) throw failedPrecondition(`volume ${id} is still mounted at ${mounted.target} (loop device ${mounted.source}); unstage it first`);
    const busy = await releaseImage(ctx.loops, img);
    if (busy.length) throw failedPrecondition(`volume ${id} is still held by loop device ${busy.join(', ')} (open elsewhere); not deleted`);
    try {
      await ctx.store.putVolume({ ...v, status: 'deleting' });
    } catch (e) {
      // Deleting is how an operator frees a full disk: go on without the intent
      // record. A crash before the record is removed leaves a 'ready' record
      // without an image, which the CO's retried Delete removes.
      if (!(e instanceof StateDiskFullError)) throw e;
      ctx.log.warn({ volume_id: id, err: e.message }, 'data dir full: deleting without an intent record');
    }
    await removeImage(img);
    await ctx.store.removeVolume(id);
    return {};
  });
}
