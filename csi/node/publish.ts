// NodePublishVolume / NodeUnpublishVolume: bind mounts from the staged volume
// to the workload's target path. A filesystem volume binds the staging mount
// onto a directory; a block volume binds the loop device node onto a file.
// The target is created here and removed on unpublish (the CO may not have
// made it, and a leftover would fail the next publish).
import type { CsiContext } from '../context.ts';
import { ephemeralVolume, getVolume } from '../context.ts';
import { isEphemeralRequest } from '../parameters.ts';
import { publishEphemeral, unpublishEphemeral } from './ephemeral.ts';
import { alreadyExists, failedPrecondition, invalidArgument, notFound } from '../../lib/grpc/status-error.ts';
import { checkId, checkPath, parseCapability, unsupportedReason } from '../validate.ts';
import type { VolumeCapability } from '../types.ts';
import { mountAt } from '../volumes/mounts.ts';
import { attachedDevice } from './stage.ts';
import { ensureTarget, removeTarget } from './paths.ts';

export interface PublishRequest {
  volume_id?: string;
  staging_target_path?: string;
  target_path?: string;
  volume_capability?: VolumeCapability | null;
  readonly?: boolean;
  volume_context?: Record<string, string>;
}

export async function nodePublishVolume(ctx: CsiContext, req: PublishRequest): Promise<Record<string, never>> {
  const id = checkId(req.volume_id, 'volume_id');
  // An inline ephemeral volume has no stage: see ephemeral.ts.
  if (isEphemeralRequest(req.volume_context)) {
    const { staging_target_path, ...rest } = req;
    return publishEphemeral(ctx, {
      ...rest,
      volume_id: id,
      target_path: checkPath(req.target_path, 'target_path'),
      ...(staging_target_path ? { staging_target_path } : {}),
    });
  }
  const staging = checkPath(req.staging_target_path, 'staging_target_path');
  const target = checkPath(req.target_path, 'target_path');
  if (!req.volume_capability) throw invalidArgument('volume_capability is required');
  const cap = parseCapability(req.volume_capability, 'volume_capability');
  const readOnly = !!req.readonly || cap.readOnlyMode;
  return ctx.lock.run(id, async () => {
    const v = getVolume(ctx, id);
    const why = unsupportedReason(cap);
    if (why) throw failedPrecondition(why);
    if (!v.stage?.complete || v.stage.path !== staging) throw failedPrecondition(`volume ${id} is not staged at ${staging}`);
    if (v.stage.block !== cap.block)
      throw alreadyExists(`volume ${id} is staged as ${v.stage.block ? 'block' : 'mount'}, not ${cap.block ? 'block' : 'mount'}`);
    const prev = v.publish[target];
    if (prev && (prev.readonly !== readOnly || prev.block !== cap.block))
      throw alreadyExists(`volume ${id} is already published at ${target} with other options`);
    if (prev && (await mountAt(ctx.mounts, target))) return {};

    let source = staging;
    if (cap.block) {
      const dev = await attachedDevice(ctx, id);
      if (!dev) throw failedPrecondition(`volume ${id} has no loop device; stage it again`);
      source = dev;
    } else if (!(await mountAt(ctx.mounts, staging))) {
      throw failedPrecondition(`staging path ${staging} of volume ${id} is not mounted; stage it again`);
    }
    await ensureTarget(target, cap.block);
    // A crash after the mount but before the record: the mount is already there.
    if (!(await mountAt(ctx.mounts, target))) {
      try {
        await ctx.fs.mount(source, target, { bind: true, readOnly, flags: cap.block ? [] : cap.mountFlags.filter((f) => f !== 'rw') });
      } catch (e) {
        await removeTarget(target).catch(() => {});
        throw e;
      }
    }
    await ctx.store.putVolume({ ...v, publish: { ...v.publish, [target]: { readonly: readOnly, block: cap.block } } });
    return {};
  });
}

export async function nodeUnpublishVolume(ctx: CsiContext, req: { volume_id?: string; target_path?: string }): Promise<Record<string, never>> {
  const id = checkId(req.volume_id, 'volume_id');
  const target = checkPath(req.target_path, 'target_path');
  if (!ctx.store.volume(id)) {
    const e = ephemeralVolume(ctx, id);
    if (e) return unpublishEphemeral(ctx, e, target);
  }
  return ctx.lock.run(id, async () => {
    const v = ctx.store.volume(id);
    if (!v) throw notFound(`volume ${id} does not exist`);
    // A Publish killed after its bind mount but before its record leaves a
    // mount no record knows; kubelet (which saw the call fail) may never retry
    // the Publish, only Unpublish. So a mount of this volume's device at the
    // target is ours to remove, recorded or not; anything else there is not.
    const recorded = !!v.publish[target];
    if (recorded || (await mountedFromVolume(ctx, id, target))) {
      for (let i = 0; i < 4 && (await mountAt(ctx.mounts, target)); i++) await ctx.fs.unmount(target);
      await removeTarget(target);
    }
    if (recorded) {
      const { [target]: _gone, ...rest } = v.publish;
      await ctx.store.putVolume({ ...v, publish: rest });
    }
    return {};
  });
}

/** Whether `target` is a bind of this volume: of its staged filesystem (source is the loop device) or of the device node itself (block). */
async function mountedFromVolume(ctx: CsiContext, id: string, target: string): Promise<boolean> {
  const m = await mountAt(ctx.mounts, target);
  if (!m) return false;
  const dev = await attachedDevice(ctx, id);
  return !!dev && (m.source === dev || m.root === `/${dev.replace(/^\/dev\//, '')}`);
}
