// NodeExpandVolume: after ControllerExpandVolume grew the image, tell the
// loop device (`losetup -c`) and grow the mounted filesystem online
// (resize2fs for ext4, xfs_growfs for xfs). Block volumes need only the first.
import type { CsiContext } from '../context.ts';
import { getVolume } from '../context.ts';
import { failedPrecondition, outOfRange } from '../../lib/grpc/status-error.ts';
import { checkId, required } from '../validate.ts';
import { attachedDevice } from './stage.ts';
import { existingPath, pathKind } from './paths.ts';
import { mountAt } from '../volumes/mounts.ts';
import type { CapacityRange } from '../types.ts';

export async function nodeExpandVolume(ctx: CsiContext, req: { volume_id?: string; volume_path?: string; capacity_range?: CapacityRange | null }) {
  const id = checkId(req.volume_id, 'volume_id');
  required(req.volume_path, 'volume_path');
  getVolume(ctx, id);
  const path = await existingPath(req.volume_path, 'volume_path');
  return ctx.lock.run(id, async () => {
    const v = getVolume(ctx, id);
    const want = req.capacity_range?.required_bytes ?? 0;
    if (want > v.capacityBytes) throw outOfRange(`volume ${id} holds ${v.capacityBytes} bytes; expand it in the controller first`);
    const dev = await attachedDevice(ctx, id);
    if (!dev) throw failedPrecondition(`volume ${id} is not staged on this node`);
    await ctx.loops.refreshSize(dev);
    if ((await pathKind(path)) === 'dir') {
      const m = await mountAt(ctx.mounts, path);
      if (!m) throw failedPrecondition(`${path} is not mounted`);
      try {
        await ctx.fs.grow(dev, path, m.fsType);
      } catch (e) {
        // Online ext4 growth needs CAP_SYS_RESOURCE (EXT4_IOC_RESIZE_FS); without
        // it the next Stage grows the filesystem offline, before mounting it.
        if (/Permission denied|Operation not permitted/.test((e as Error).message)) {
          throw failedPrecondition(`the kernel refused to grow the mounted ${m.fsType} online (the driver lacks CAP_SYS_RESOURCE); it will grow at the next NodeStageVolume`);
        }
        throw e;
      }
    }
    if (v.fsGrowPending) {
      const { fsGrowPending: _done, ...rest } = v;
      await ctx.store.putVolume(rest);
    }
    return { capacity_bytes: v.capacityBytes };
  });
}
