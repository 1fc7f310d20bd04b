// Snapshots: a point-in-time copy of a volume's image in <data-dir>/snapshots
// (reflinked where the filesystem can). Same crash discipline as volumes:
// record 'creating', copy, record 'ready'; reconcile removes what a crash left.
import type { CsiContext } from '../context.ts';
import { getSnapshot as findSnapshot, getVolume, imagePath, snapshotIdFor, snapshotPath, toCsiSnapshot } from '../context.ts';
import { alreadyExists, invalidArgument, resourceExhausted } from '../../lib/grpc/status-error.ts';
import { checkId, checkName } from '../validate.ts';
import { allocatedBytes, materializeImage, removeImage } from '../volumes/image.ts';
import type { SnapshotRecord } from '../state/records.ts';
import { page } from './paging.ts';
import { withQuiescedVolume } from './quiesce.ts';
import { diskFullAsStatus, withRoomFor } from '../volumes/capacity.ts';

function checkSnapshotParameters(p: Record<string, string> | undefined): void {
  for (const k of Object.keys(p ?? {})) {
    if (!k.startsWith('csi.storage.k8s.io/')) throw invalidArgument(`parameters.${k} is not a known snapshot parameter (there are none)`);
  }
}

export async function createSnapshot(ctx: CsiContext, req: { source_volume_id?: string; name?: string; parameters?: Record<string, string> }) {
  const name = checkName(req.name);
  const volId = checkId(req.source_volume_id, 'source_volume_id');
  checkSnapshotParameters(req.parameters);
  const id = snapshotIdFor(name);
  return ctx.lock.run(id, async () => {
    const existing = ctx.store.snapshot(id);
    if (existing?.status === 'ready') {
      if (existing.sourceVolumeId !== volId) throw alreadyExists(`snapshot ${name} exists for another source volume`);
      return { snapshot: toCsiSnapshot(existing) };
    }
    const vol = getVolume(ctx, volId);
    const file = snapshotPath(ctx, id);
    if (existing) await removeImage(file);
    const rec: SnapshotRecord = { id, name, sourceVolumeId: volId, sizeBytes: vol.capacityBytes, status: 'creating', createdAtMs: Date.now() };
    // The copy takes about what the source holds, out of the space promised to volumes.
    const copyBytes = await allocatedBytes(imagePath(ctx, volId));
    await withRoomFor(ctx, { id, more: copyBytes, total: copyBytes }, resourceExhausted, () => ctx.store.putSnapshot(rec));
    try {
      // Hold the source volume's lock: no Stage, expand or delete mid-copy.
      await ctx.lock.run(volId, async () => {
        // A blank source has no image until its first use (create-volume.ts).
        const sv = ctx.store.volume(volId);
        if (sv) await materializeImage(imagePath(ctx, volId), sv);
        await withQuiescedVolume(ctx, volId, () => ctx.copier.copy(imagePath(ctx, volId), file));
      });
      rec.status = 'ready';
      await ctx.store.putSnapshot(rec);
    } catch (e) {
      await removeImage(file).catch(() => {});
      await ctx.store.removeSnapshot(id).catch(() => {});
      throw diskFullAsStatus(e, `CreateSnapshot ${name}`);
    }
    return { snapshot: toCsiSnapshot(rec) };
  });
}

export async function deleteSnapshot(ctx: CsiContext, req: { snapshot_id?: string }) {
  const id = checkId(req.snapshot_id, 'snapshot_id');
  return ctx.lock.run(id, async () => {
    const s = ctx.store.snapshot(id);
    if (!s) return {};
    await ctx.store.putSnapshot({ ...s, status: 'deleting' });
    await removeImage(snapshotPath(ctx, id));
    await ctx.store.removeSnapshot(id);
    return {};
  });
}

export async function listSnapshots(ctx: CsiContext, req: { max_entries?: number; starting_token?: string; source_volume_id?: string; snapshot_id?: string }) {
  let all = ctx.store.snapshots().filter((s) => s.status === 'ready');
  if (req.snapshot_id) all = all.filter((s) => s.id === req.snapshot_id);
  if (req.source_volume_id) all = all.filter((s) => s.sourceVolumeId === req.source_volume_id);
  const { items, next } = page(all, req.max_entries, req.starting_token);
  return { entries: items.map((s) => ({ snapshot: toCsiSnapshot(s) })), next_token: next };
}

export async function getSnapshot(ctx: CsiContext, req: { snapshot_id?: string }) {
  const id = checkId(req.snapshot_id, 'snapshot_id');
  return { snapshot: toCsiSnapshot(findSnapshot(ctx, id)) };
}
