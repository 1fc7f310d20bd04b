// DeleteVolume: idempotent (an unknown id is already deleted). A volume still
// staged or published is refused: deleting its image under a live mount
// would leave the workload writing into a deleted file.
import type { CsiContext } from '../context.ts';
import { imagePath } from '../context.ts';
import { failedPrecondition } from '../../lib/grpc/status-error.ts';
import { checkId } from '../validate.ts';
import { removeImage } from '../volumes/image.ts';
import { StateDiskFullError } from '../state/store.ts';

export async function detachLoopsOf(ctx: CsiContext, image: string): Promise<void> {
  // More than one only if something outside the driver attached the image too.
  for (let i = 0, dev = await ctx.loops.find(image); dev && i < 8; i++, dev = await ctx.loops.find(image)) await ctx.loops.detach(dev);
}

export async function deleteVolume(ctx: CsiContext, req: { volume_id?: string }): Promise<Record<string, never>> {
  const id = checkId(req.volume_id, 'volume_id');
  return ctx.lock.run(id, async () => {
    const v = ctx.store.volume(id);
    if (!v) return {};
    if (Object.keys(v.attached ?? {}).length > 0) throw failedPrecondition(`volume ${id} is still controller-published to node ${Object.keys(v.attached ?? {}).join(', ')}; ControllerUnpublish it first`);
    if (Object.keys(v.publish).length > 0 || v.stage?.complete) {
      throw failedPrecondition(`volume ${id} is still ${Object.keys(v.publish).length ? 'published' : 'staged'} on node; unpublish and unstage it first`);
    }
    try {
      await ctx.store.putVolume({ ...v, status: 'deleting' });
    } catch (e) {
      // Deleting is how an operator frees a full disk: go on without the intent
      // record. A crash before the record is removed leaves a 'ready' record
      // without an image, which the CO's retried Delete removes.
      if (!(e instanceof StateDiskFullError)) throw e;
      ctx.log.warn({ volume_id: id, err: e.message }, 'data dir full: deleting without an intent record');
    }
    const img = imagePath(ctx, id);
    await detachLoopsOf(ctx, img);
    await removeImage(img);
    await ctx.store.removeVolume(id);
    return {};
  });
}
