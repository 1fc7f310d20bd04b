// A snapshot or clone of a volume that is mounted right now must not catch the
// filesystem mid-write: freeze it (fsfreeze flushes and blocks writers) for the
// length of the copy. Unmounted and block volumes are copied as they are.
import type { CsiContext } from '../context.ts';
import { mountAt } from '../volumes/mounts.ts';

export async function withQuiescedVolume<T>(ctx: CsiContext, volumeId: string, fn: () => Promise<T>): Promise<T> {
  const v = ctx.store.volume(volumeId);
  const path = v?.stage && !v.stage.block && v.stage.complete ? v.stage.path : undefined;
  const mounted = path ? await mountAt(ctx.mounts, path) : undefined;
  if (!path || !mounted) return fn();
  await ctx.fs.freeze(path);
  try {
    return await fn();
  } finally {
    await ctx.fs.thaw(path);
  }
}
