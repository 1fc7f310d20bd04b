// NodeStageVolume / NodeUnstageVolume. Stage attaches the image to a loop
// device (again, after a reboot took it away), makes the filesystem on first
// use and mounts it at the staging path; block volumes stop at the loop
// device. The intent is recorded before the first host change, so a crash
// mid-way leaves a record that the retry or start-up reconcile completes or
// undoes.
import type { CsiContext } from '../context.ts';
import { getVolume, imagePath } from '../context.ts';
import { alreadyExists, failedPrecondition, invalidArgument } from '../../lib/grpc/status-error.ts';
import { checkId, checkPath, parseCapability, unsupportedReason } from '../validate.ts';
import type { VolumeCapability } from '../types.ts';
import { mountAt } from '../volumes/mounts.ts';
import { mkdir } from 'node:fs/promises';
import type { FsType } from '../volumes/filesystem.ts';
import { imageExists, materializeImage, syncImage } from '../volumes/image.ts';
import { applyMutable, releaseImage } from '../volumes/loop.ts';
import { releaseAfterUnmount } from './release.ts';

export interface StageRequest {
  volume_id?: string;
  staging_target_path?: string;
  volume_capability?: VolumeCapability | null;
  volume_context?: Record<string, string>;
}

export async function nodeStageVolume(ctx: CsiContext, req: StageRequest): Promise<Record<string, never>> {
  const id = checkId(req.volume_id, 'volume_id');
  const path = checkPath(req.staging_target_path, 'staging_target_path');
  if (!req.volume_capability) throw invalidArgument('volume_capability is required');
  const cap = parseCapability(req.volume_capability, 'volume_capability');
  return ctx.lock.run(id, async () => {
    const v = getVolume(ctx, id);
    const why = unsupportedReason(cap);
    if (why) throw failedPrecondition(why);
    const fsType: FsType | undefined = cap.block ? undefined : (cap.fsType ?? (v.parameters.fsType as FsType | undefined) ?? 'ext4');
    if (v.stage?.complete) {
      if (v.stage.path !== path) throw failedPrecondition(`volume ${id} is already staged at ${v.stage.path}`);
      if (v.stage.block !== cap.block) throw alreadyExists(`volume ${id} is staged as ${v.stage.block ? 'block' : 'mount'}`);
      // Same request again: done, provided the mount survived (after a reboot it did not).
      if (v.stage.block ? await attachedDevice(ctx, id) : await mountedFromVolume(ctx, id, path)) return {};
    }
    const img = imagePath(ctx, id);
    // A blank volume's image is made now, durably (CreateVolume wrote only its
    // record); a spare's rename was not synced: from here on it holds data.
    await materializeImage(img, v);
    if (v.formatted) await syncImage(img);
    if (!(await imageExists(img))) throw failedPrecondition(`image of volume ${id} is missing from the data dir`);

    const stage = { path, block: cap.block, complete: false, ...(fsType ? { fsType } : {}), mountFlags: cap.mountFlags };
    await ctx.store.putVolume({ ...v, stage });
    let mounted = false;
    try {
      const device = await ctx.loops.attach(img, { directIo: v.mutableParameters.directIO === 'true' });
      await applyMutable(ctx.loops, device, v.mutableParameters);
      if (!cap.block && !(await mountAt(ctx.mounts, path))) {
        // A fresh image is known to be empty, a spare to hold a fresh filesystem
        // (volumes/spares.ts): blkid, and for a spare of the type wanted mkfs, saved.
        // A spare of another type holds nothing yet either: formatted over.
        const fresh = v.blank || (v.formatted !== undefined && v.formatted !== fsType);
        const existing = fresh ? undefined : v.formatted === fsType ? fsType : await ctx.fs.detect(device);
        if (!existing) await ctx.fs.make(device, fsType!);
        if (existing === 'ext4' && v.fsGrowPending) await ctx.fs.growOffline(device);
        await mkdir(path, { recursive: true });
        await ctx.fs.mount(device, path, { fsType: existing ?? fsType!, flags: cap.mountFlags, readOnly: cap.readOnlyMode });
        mounted = true;
        if (existing === 'xfs' && v.fsGrowPending && !cap.readOnlyMode) await ctx.fs.grow(device, path, 'xfs');
      }
      const { fsGrowPending: _grown, blank: _used, formatted: _spare, ...base } = v;
      const { formatted: _used2, ...asBlock } = v;
      await ctx.store.putVolume({ ...(cap.block ? { ...asBlock, blank: false } : base), stage: { ...stage, complete: true } });
    } catch (e) {
      if (mounted) await ctx.fs.unmount(path).catch(() => {});
      await releaseImage(ctx.loops, img).catch(() => {});
      const { stage: _dropped, ...rest } = v;
      await ctx.store.putVolume(rest).catch(() => {});
      throw e;
    }
    return {};
  });
}

export async function attachedDevice(ctx: CsiContext, id: string): Promise<string | undefined> {
  return ctx.loops.find(imagePath(ctx, id));
}

/** The mount at `path` if it is this volume's filesystem (its source a loop device holding the image). */
async function mountedFromVolume(ctx: CsiContext, id: string, path: string, devices?: string[]) {
  const m = await mountAt(ctx.mounts, path);
  if (!m) return undefined;
  return (devices ?? (await ctx.loops.findAll(imagePath(ctx, id)))).includes(m.source) ? m : undefined;
}

export async function nodeUnstageVolume(ctx: CsiContext, req: { volume_id?: string; staging_target_path?: string }): Promise<Record<string, never>> {
  const id = checkId(req.volume_id, 'volume_id');
  const path = checkPath(req.staging_target_path, 'staging_target_path');
  return ctx.lock.run(id, async () => {
    const v = getVolume(ctx, id);
    if (v.stage && v.stage.path !== path) return {}; // staged elsewhere: nothing of ours at this path
    const published = Object.keys(v.publish);
    // The CO unpublishes first; unmounting under live bind mounts would pin the loop device.
    if (published.length) throw failedPrecondition(`volume ${id} is still published at ${published.join(', ')}`);
    // Unmount this volume's devices at the path (more than once if a crashed retry stacked it),
    // and nothing else: a foreign mount there is not ours to remove.
    const img = imagePath(ctx, id);
    const devices = await ctx.loops.findAll(img);
    for (let i = 0; i < 4 && (await mountedFromVolume(ctx, id, path, devices)); i++) await ctx.fs.unmount(path, { detachLoop: true });
    const left = await mountedFromVolume(ctx, id, path, devices);
    if (left) throw failedPrecondition(`staging path ${path} of volume ${id} is still mounted from ${left.source}`);
    await releaseAfterUnmount(ctx, id, img);
    if (v.stage) {
      const { stage: _dropped, ...rest } = v;
      await ctx.store.putVolume(rest);
    }
    return {};
  });
}
