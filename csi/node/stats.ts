// NodeGetVolumeStats: usage of the volume's own filesystem (statfs on the
// published or staged path), and a VolumeCondition that turns abnormal when
// the image file or the mount has gone from under the workload.
import { statfs } from 'node:fs/promises';
import type { CsiContext } from '../context.ts';
import { ephemeralVolume, getVolume, imagePath } from '../context.ts';
import { checkId, required } from '../validate.ts';
import { imageExists } from '../volumes/image.ts';
import { mountAt } from '../volumes/mounts.ts';
import { existingPath, pathKind } from './paths.ts';
import type { VolumeCondition } from '../types.ts';

export async function nodeGetVolumeStats(ctx: CsiContext, req: { volume_id?: string; volume_path?: string }) {
  const id = checkId(req.volume_id, 'volume_id');
  required(req.volume_path, 'volume_path');
  const e = ephemeralVolume(ctx, id);
  const v = e?.status === 'ready' ? e : getVolume(ctx, id);
  const path = await existingPath(req.volume_path, 'volume_path');
  const problems: string[] = [];
  if (!v.blank && !(await imageExists(imagePath(ctx, v.id)))) problems.push('image file is missing');
  const mounted = await mountAt(ctx.mounts, path);
  if (!mounted) problems.push(`${path} is not mounted`);
  const volume_condition: VolumeCondition = problems.length
    ? { abnormal: true, message: problems.join('; ') }
    : { abnormal: false, message: 'volume is attached and mounted' };
  if (!mounted) return { usage: [], volume_condition };
  if ((await pathKind(path)) !== 'dir') {
    // A block volume: its size is all there is to say.
    return { usage: [{ total: v.capacityBytes, unit: 'BYTES', available: 0, used: 0 }], volume_condition };
  }
  const s = await statfs(path);
  return {
    usage: [
      { unit: 'BYTES', total: s.blocks * s.bsize, available: s.bavail * s.bsize, used: (s.blocks - s.bfree) * s.bsize },
      { unit: 'INODES', total: s.files, available: s.ffree, used: s.files - s.ffree },
    ],
    volume_condition,
  };
}
