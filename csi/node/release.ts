// The last step of NodeUnstage and of an inline volume's NodeUnpublish, once
// the volume's mount at the CO's path is gone: free every loop device that
// holds the image. OK only when none is mounted anywhere this driver can see
// (a leftover mount there would keep writing into an image Delete removes);
// a device still open by someone we cannot see (a mount namespace copied
// while the volume was mounted, a probe) has been told to free itself at its
// last close, which is all the kernel allows — it is logged, not failed, or
// the CO would retry forever for something no retry can change.
import type { CsiContext } from '../context.ts';
import { failedPrecondition } from '../../lib/grpc/status-error.ts';
import { releaseImage } from '../volumes/loop.ts';

export async function releaseAfterUnmount(ctx: CsiContext, name: string, image: string): Promise<void> {
  const busy = await releaseImage(ctx.loops, image);
  if (!busy.length) return;
  const mounted = (await ctx.mounts.list()).find((m) => busy.includes(m.source));
  if (mounted) throw failedPrecondition(`volume ${name} is still mounted at ${mounted.target} (loop device ${mounted.source})`);
  ctx.log.warn({ volume: name, devices: busy }, 'loop device still open outside this mount namespace; the kernel frees it at its last close');
}
