// NodeExpandVolume, on the node that holds the volume: grow the image to the
// size kubelet asks for if the controller did not already (the resizer may
// have reached another node's driver, see controller/expand.ts), tell the loop
// device (`losetup -c`), and grow a mounted filesystem online (resize2fs for
// ext4, xfs_growfs for xfs). Block volumes need only the first two.
import type { CsiContext } from '../context.ts';
import { getVolume, imagePath } from '../context.ts';
import { failedPrecondition, outOfRange } from '../../lib/grpc/status-error.ts';
import { checkId, parseCapability, required, sizeFor } from '../validate.ts';
import { attachedDevice } from './stage.ts';
import { existingPath, pathKind } from './paths.ts';
import { mountAt } from '../volumes/mounts.ts';
import { growImage, materializeImage } from '../volumes/image.ts';
import { withRoomFor } from '../volumes/capacity.ts';
import type { CapacityRange, VolumeCapability } from '../types.ts';

export async function nodeExpandVolume(
  ctx: CsiContext,
  req: { volume_id?: string; volume_path?: string; capacity_range?: CapacityRange | null; volume_capability?: VolumeCapability | null },
) {
  const id = checkId(req.volume_id, 'volume_id');
  required(req.volume_path, 'volume_path');
  getVolume(ctx, id);
  const path = await existingPath(req.volume_path, 'volume_path');
  const cap = req.volume_capability ? parseCapability(req.volume_capability, 'volume_capability') : undefined;
  // No required size: grow the filesystem to whatever the device holds now.
  const want = (req.capacity_range?.required_bytes ?? 0) > 0 ? sizeFor(req.capacity_range) : 0;
  return ctx.lock.run(id, async () => {
    let v = getVolume(ctx, id);
    const isDir = (await pathKind(path)) === 'dir';
    const block = cap?.block ?? v.stage?.block ?? !isDir;
    if (want > v.capacityBytes) {
      // The growth is a new promise: the disk policy (volumes/capacity.ts) must allow it.
      // Image first, record second: a crash in between leaves the image larger
      // than recorded, which the retry's truncate makes right.
      const grown = { ...v, capacityBytes: want, ...(block ? {} : { fsGrowPending: true }) };
      await withRoomFor(ctx, { id, more: want - v.capacityBytes, total: want }, outOfRange, async () => {
        await materializeImage(imagePath(ctx, id), v);
        await growImage(imagePath(ctx, id), want);
        await ctx.store.putVolume(grown);
      });
      v = grown;
    }
    const dev = await attachedDevice(ctx, id);
    if (!dev)
      throw failedPrecondition(
        `volume ${id} is not staged on this node${want > 0 ? '; its image has grown and the filesystem grows at the next NodeStageVolume' : ''}`,
      );
    await ctx.loops.refreshSize(dev);
    if (isDir) {
      const m = await mountAt(ctx.mounts, path);
      if (!m) throw failedPrecondition(`${path} is not mounted`);
      try {
        await ctx.fs.grow(dev, path, m.fsType);
      } catch (e) {
        // Online ext4 growth needs CAP_SYS_RESOURCE (EXT4_IOC_RESIZE_FS); without
        // it the next Stage grows the filesystem offline, before mounting it.
        if (/Permission denied|Operation not permitted/.test((e as Error).message)) {
          // kubelet takes FAILED_PRECONDITION as "do not block the mount, do not
          // retry here" and shows the user nothing: say it where operators look.
          ctx.log.warn(
            { volume_id: id, bytes: v.capacityBytes, fs: m.fsType },
            'volume grew, but its mounted filesystem cannot grow online without CAP_SYS_RESOURCE; it grows at the next NodeStageVolume (re-create the pod)',
          );
          throw failedPrecondition(
            `the kernel refused to grow the mounted ${m.fsType} online (the driver lacks CAP_SYS_RESOURCE); it will grow at the next NodeStageVolume`,
          );
        }
        throw e;
      }
    }
    if (v.fsGrowPending && isDir) {
      const { fsGrowPending: _done, ...rest } = v;
      await ctx.store.putVolume(rest);
    }
    return { capacity_bytes: v.capacityBytes };
  });
}
