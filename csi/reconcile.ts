// Start-up reconcile: make the host match the durable records after a crash
// (SIGKILL mid-call) or a reboot. Half-done creates and snapshots are rolled
// back, half-done deletes finished, loop devices of ours that nothing needs
// any more detached. Staged volumes whose loop device vanished (reboot) are
// left for the CO's next NodeStageVolume, which re-attaches them.
import { readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { CsiContext } from './context.ts';
import { imagePath, snapshotPath } from './context.ts';
import { imagesDir as imagesDirOf, snapshotsDir } from './state/layout.ts';
import { imageExists, removeImage } from './volumes/image.ts';
import { mountAt } from './volumes/mounts.ts';
import { fileIdentity, sameFile, type LoopInfo } from './volumes/loop.ts';
import { teardownEphemeral } from './node/ephemeral.ts';
import { errorMessage, isNotFound } from '../lib/errors.ts';

async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (e) {
    if (isNotFound(e)) return [];
    throw e;
  }
}

export interface ReconcileReport {
  rolledBackVolumes: string[];
  rolledBackSnapshots: string[];
  detachedLoops: string[];
  removedOrphans: string[];
  /** Volumes made from a spare whose rename a crash undid: blank again (nothing was ever written). */
  recreatedImages: string[];
}

export async function reconcile(ctx: CsiContext): Promise<ReconcileReport> {
  const report: ReconcileReport = { rolledBackVolumes: [], rolledBackSnapshots: [], detachedLoops: [], removedOrphans: [], recreatedImages: [] };
  const imagesDir = imagesDirOf(ctx.dataDir);
  // Matched by backing inode and device: the path the kernel shows depends on
  // the mount namespace that attached the device (see volumes/loop.ts).
  const loops = await ctx.loops.list();
  const loopsOf = async (file: string): Promise<LoopInfo[]> => {
    const id = await fileIdentity(file);
    return id ? loops.filter((l) => sameFile(l.backing, id)) : [];
  };

  for (const s of ctx.store.snapshots()) {
    if (s.status === 'ready') continue;
    await removeImage(snapshotPath(ctx, s.id));
    await ctx.store.removeSnapshot(s.id);
    report.rolledBackSnapshots.push(s.id);
  }

  for (const v of ctx.store.volumes()) {
    const img = imagePath(ctx, v.id);
    if (v.ephemeral) {
      // A live inline volume keeps its device and mount; one cut short mid-Publish or
      // mid-Unpublish is removed (kubelet retries the call and gets a fresh one).
      if (v.status === 'ready') continue;
      try {
        await teardownEphemeral(ctx, v);
        report.rolledBackVolumes.push(v.id);
      } catch (e) {
        ctx.log.warn({ volume_id: v.id, err: errorMessage(e) }, 'inline volume still in use; left for its NodeUnpublishVolume');
      }
      continue;
    }
    if (v.status !== 'ready') {
      for (const l of await loopsOf(img)) {
        await ctx.loops.detach(l.device);
        report.detachedLoops.push(l.device);
      }
      await removeImage(img);
      await ctx.store.removeVolume(v.id);
      report.rolledBackVolumes.push(v.id);
      continue;
    }
    if (v.formatted && !v.stage && !(await imageExists(img))) {
      // CreateVolume does not sync the rename of a spare (create-volume.ts): a
      // crash may have undone it. Nothing was ever written into it: the volume
      // is blank, its image made at first use like any blank volume's.
      const { formatted: _gone, ...rest } = v;
      await ctx.store.putVolume({ ...rest, blank: true });
      report.recreatedImages.push(v.id);
    }
    if (v.stage && !v.stage.complete) {
      // Stage was cut short: undo what it did; the CO retries Stage.
      for (const l of await loopsOf(img)) {
        if (!v.stage.block && (await mountAt(ctx.mounts, v.stage.path))?.source === l.device) await ctx.fs.unmount(v.stage.path);
        await ctx.loops.detach(l.device);
        report.detachedLoops.push(l.device);
      }
      const { stage: _dropped, ...rest } = v;
      await ctx.store.putVolume(rest);
    } else if (!v.stage) {
      for (const l of await loopsOf(img)) {
        await ctx.loops.detach(l.device);
        report.detachedLoops.push(l.device);
      }
    } else if (!v.stage.block && (await mountAt(ctx.mounts, v.stage.path))) {
      // A snapshot cut short by a crash may have left the filesystem frozen:
      // every writer in the pod would hang. Thawing a thawed fs is a no-op.
      await ctx.fs.thaw(v.stage.path);
    }
  }

  // Files no record owns: copies cut short before their record was written,
  // temp files. A loop device onto one is detached first. (A loop device
  // whose image file is already gone cannot be told apart from another
  // driver's on the same filesystem, so it is left alone.)
  const volIds = new Set(ctx.store.volumes().map((v) => v.id));
  for (const f of await listDir(imagesDir)) {
    if (volIds.has(basename(f, '.img'))) continue;
    for (const l of await loopsOf(join(imagesDir, f))) {
      await ctx.loops.detach(l.device);
      report.detachedLoops.push(l.device);
    }
    await removeImage(join(imagesDir, f));
    report.removedOrphans.push(join(imagesDir, f));
  }
  const snapIds = new Set(ctx.store.snapshots().map((s) => s.id));
  const snapDir = snapshotsDir(ctx.dataDir);
  for (const f of await listDir(snapDir)) {
    if (!snapIds.has(basename(f, '.img'))) {
      await removeImage(join(snapDir, f));
      report.removedOrphans.push(join(snapDir, f));
    }
  }
  return report;
}
