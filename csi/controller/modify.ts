// ControllerModifyVolume: the mutable parameters (see parameters.ts) are
// persisted on the volume and, when it is attached now, applied to its loop
// device at once; Stage applies them again after every attach.
import type { CsiContext } from '../context.ts';
import { getVolume, imagePath } from '../context.ts';
import { checkId } from '../validate.ts';
import { checkMutableParameters } from '../parameters.ts';
import { applyMutable } from '../volumes/loop.ts';

export async function controllerModifyVolume(ctx: CsiContext, req: { volume_id?: string; mutable_parameters?: Record<string, string> }) {
  const id = checkId(req.volume_id, 'volume_id');
  const changes = checkMutableParameters(req.mutable_parameters);
  return ctx.lock.run(id, async () => {
    const v = getVolume(ctx, id);
    const img = imagePath(ctx, id);
    const dev = await ctx.loops.find(img);
    if (dev) await applyMutable(ctx.loops, dev, changes);
    await ctx.store.putVolume({ ...v, mutableParameters: { ...v.mutableParameters, ...changes } });
    return {};
  });
}
