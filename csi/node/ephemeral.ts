// Inline ephemeral volumes: a pod's `volumes: [{csi: {driver, volumeAttributes}}]`.
// kubelet calls NodePublishVolume with no staging path and
// `csi.storage.k8s.io/ephemeral: "true"` in volume_context (it adds that key
// only when the CSIDriver has podInfoOnMount: true), and NodeUnpublishVolume
// when the pod goes. So Publish does Create + Stage + Publish in one call —
// image, loop device, filesystem, mounted straight at the target — and
// Unpublish undoes all of it. Same crash discipline as the rest: the record is
// written as `creating` before the first host change and `deleting` before
// teardown starts, so a retry or start-up reconcile finishes or undoes it.
import type { CsiContext } from '../context.ts';
import { ephemeralIdFor, ephemeralVolume, imagePath } from '../context.ts';
import { alreadyExists, failedPrecondition, invalidArgument, outOfRange, resourceExhausted } from '../../lib/grpc/status-error.ts';
import { DEFAULT_VOLUME_BYTES, parseCapability, sizeFor, unsupportedReason, type ParsedCapability } from '../validate.ts';
import { checkEphemeralAttributes } from '../parameters.ts';
import { createImage, removeImage } from '../volumes/image.ts';
import { withRoomFor } from '../volumes/capacity.ts';
import { releaseImage } from '../volumes/loop.ts';
import { mountAt } from '../volumes/mounts.ts';
import type { FsType } from '../volumes/filesystem.ts';
import type { VolumeRecord } from '../state/records.ts';
import type { VolumeCapability } from '../types.ts';
import { ensureTarget, removeTarget } from './paths.ts';
import { releaseAfterUnmount } from './release.ts';

/** xfs refuses to make a filesystem smaller than this. */
const XFS_MIN_BYTES = 300 * 1024 * 1024;

export interface EphemeralPublishRequest {
  volume_id: string;
  target_path: string;
  volume_capability?: VolumeCapability | null;
  volume_context?: Record<string, string>;
  readonly?: boolean;
  staging_target_path?: string;
}

interface Wanted {
  bytes: number;
  fsType: FsType;
  cap: ParsedCapability;
  readOnly: boolean;
}

/** Everything checked before any host change (INVALID_ARGUMENT / OUT_OF_RANGE). */
function wanted(req: EphemeralPublishRequest): Wanted {
  if (req.staging_target_path) throw invalidArgument('staging_target_path must be empty for an inline ephemeral volume (it has no stage)');
  if (!req.volume_capability) throw invalidArgument('volume_capability is required');
  const cap = parseCapability(req.volume_capability, 'volume_capability');
  if (cap.block) throw invalidArgument('an inline ephemeral volume is a filesystem volume: volume_capability must be mount');
  const why = unsupportedReason(cap);
  if (why) throw invalidArgument(why);
  const attrs = checkEphemeralAttributes(req.volume_context);
  if (cap.fsType && attrs.fsType && cap.fsType !== attrs.fsType)
    throw invalidArgument(`volume_capability fs_type ${cap.fsType} conflicts with volume_context.fsType ${attrs.fsType}`);
  const fsType = attrs.fsType ?? cap.fsType ?? 'ext4';
  const bytes = sizeFor({ required_bytes: attrs.sizeBytes ?? DEFAULT_VOLUME_BYTES });
  if (fsType === 'xfs' && bytes < XFS_MIN_BYTES) throw outOfRange(`volume_context.size ${bytes} bytes is below the smallest xfs filesystem (300 MiB)`);
  return { bytes, fsType, cap, readOnly: !!req.readonly || cap.readOnlyMode };
}

/** The mount at `target` if it is this volume's filesystem. */
async function ourMount(ctx: CsiContext, v: VolumeRecord, target: string) {
  const m = await mountAt(ctx.mounts, target);
  if (!m) return undefined;
  return (await ctx.loops.findAll(imagePath(ctx, v.id))).includes(m.source) ? m : undefined;
}

export async function publishEphemeral(ctx: CsiContext, req: EphemeralPublishRequest): Promise<Record<string, never>> {
  const w = wanted(req);
  const id = ephemeralIdFor(req.volume_id);
  return ctx.lock.run(id, async () => {
    let v = ephemeralVolume(ctx, req.volume_id);
    if (v && v.status !== 'ready') {
      // A Publish or Unpublish cut short (crash): finish undoing it, then make the volume afresh.
      await teardownEphemeral(ctx, v);
      v = undefined;
    }
    if (v?.status === 'ready') {
      const e = v.ephemeral!;
      if (e.targetPath !== req.target_path) throw alreadyExists(`inline volume ${req.volume_id} is already published at ${e.targetPath}`);
      if (v.capacityBytes !== w.bytes || e.fsType !== w.fsType || e.readonly !== w.readOnly)
        throw alreadyExists(`inline volume ${req.volume_id} exists with another size, fsType or readonly flag`);
      if (await ourMount(ctx, v, req.target_path)) return {};
      // The mount is gone (a reboot): attach and mount the image again, below.
    }
    const fresh = !v;
    const img = imagePath(ctx, id);
    if (fresh) {
      const live = ctx.store.countVolumes('ready');
      if (live >= ctx.maxVolumes) throw resourceExhausted(`node ${ctx.nodeId} already holds its maximum of ${ctx.maxVolumes} volumes`);
      v = {
        id,
        name: req.volume_id,
        capacityBytes: w.bytes,
        status: 'creating',
        parameters: { fsType: w.fsType },
        mutableParameters: {},
        createdAt: new Date().toISOString(),
        publish: {},
        ephemeral: { handle: req.volume_id, targetPath: req.target_path, readonly: w.readOnly, fsType: w.fsType },
      };
      // The disk policy (volumes/capacity.ts) counts an inline volume's promise like any other.
      const record = v;
      await withRoomFor(ctx, { id, more: w.bytes, total: w.bytes }, resourceExhausted, () => ctx.store.putVolume(record));
    }
    const rec = v!;
    let mounted = false;
    try {
      if (fresh) {
        // A file no record owned (reconcile removes those at start-up): start from nothing.
        await releaseImage(ctx.loops, img);
        await removeImage(img);
        await createImage(img, w.bytes);
      }
      const device = await ctx.loops.attach(img);
      const existing = fresh ? undefined : await ctx.fs.detect(device);
      if (!existing) await ctx.fs.make(device, w.fsType);
      await ensureTarget(req.target_path, false);
      if (!(await ourMount(ctx, rec, req.target_path))) {
        await ctx.fs.mount(device, req.target_path, { fsType: existing ?? w.fsType, flags: w.cap.mountFlags.filter((f) => f !== 'rw'), readOnly: w.readOnly });
        mounted = true;
      }
      if (rec.status !== 'ready') await ctx.store.putVolume({ ...rec, status: 'ready' });
    } catch (e) {
      // Undo: a fresh volume leaves nothing; a re-mounted one keeps its image.
      if (mounted) await ctx.fs.unmount(req.target_path).catch(() => {});
      await releaseImage(ctx.loops, img).catch(() => {});
      if (fresh) {
        await removeImage(img).catch(() => {});
        await ctx.store.removeVolume(id).catch(() => {});
        await removeTarget(req.target_path).catch(() => {});
      }
      throw e;
    }
    return {};
  });
}

export async function unpublishEphemeral(ctx: CsiContext, v: VolumeRecord, target: string): Promise<Record<string, never>> {
  return ctx.lock.run(v.id, async () => {
    const cur = ctx.store.volume(v.id);
    if (!cur?.ephemeral) return {};
    // A target other than its own holds nothing of it.
    if (cur.ephemeral.targetPath !== target) return {};
    await teardownEphemeral(ctx, cur);
    return {};
  });
}

/**
 * Unmount, free the loop device, remove the image, the target and the record —
 * in that order, with the record marked `deleting` first, so a crash anywhere
 * leaves a record that the retry (or start-up reconcile) finishes. Throws
 * FAILED_PRECONDITION, changing nothing more, if the filesystem is still in use.
 */
export async function teardownEphemeral(ctx: CsiContext, v: VolumeRecord): Promise<void> {
  const target = v.ephemeral!.targetPath;
  const img = imagePath(ctx, v.id);
  if (v.status !== 'deleting') await ctx.store.putVolume({ ...v, status: 'deleting' });
  for (let i = 0; i < 4 && (await ourMount(ctx, v, target)); i++) await ctx.fs.unmount(target, { detachLoop: true });
  const left = await ourMount(ctx, v, target);
  if (left) throw failedPrecondition(`inline volume ${v.ephemeral!.handle} is still mounted at ${target}`);
  await releaseAfterUnmount(ctx, v.ephemeral!.handle, img);
  await removeImage(img);
  await removeTarget(target);
  await ctx.store.removeVolume(v.id);
}
