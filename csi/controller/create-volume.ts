// CreateVolume: a sparse image in <data-dir>/images, empty or copied from a
// snapshot or another volume. Idempotent by name (the id is derived from it).
// The record is written as 'creating' before the image exists, so a crash at
// any point leaves something reconcile (driver start-up) can roll back.
import type { CsiContext } from '../context.ts';
import { getSnapshot, getVolume, imagePath, snapshotPath, toCsiVolume, volumeIdFor, TOPOLOGY_KEY } from '../context.ts';
import { alreadyExists, GrpcError, invalidArgument, notFound, outOfRange, resourceExhausted, status } from '../../lib/grpc/status-error.ts';
import { SUPPORTED_FS, type FsType } from '../volumes/filesystem.ts';
import { checkName, checkSupported, parseCapabilities, sizeFor, checkId } from '../validate.ts';
import { checkMutableParameters, checkParameters } from '../parameters.ts';
import { growImage, materializeImage, removeImage } from '../volumes/image.ts';
import type { VolumeRecord } from '../state/records.ts';
import type { CapacityRange, CsiVolume, Topology, VolumeCapability, VolumeContentSource } from '../types.ts';
import { withQuiescedVolume } from './quiesce.ts';
import { diskFullAsStatus, withRoomFor } from '../volumes/capacity.ts';

export interface CreateVolumeRequest {
  name?: string;
  capacity_range?: CapacityRange | null;
  volume_capabilities?: VolumeCapability[];
  parameters?: Record<string, string>;
  volume_content_source?: VolumeContentSource | null;
  accessibility_requirements?: { requisite?: Topology[]; preferred?: Topology[] } | null;
  mutable_parameters?: Record<string, string>;
}

function fitsRange(bytes: number, r: CapacityRange | null | undefined): boolean {
  const req = r?.required_bytes ?? 0;
  const lim = r?.limit_bytes ?? 0;
  return bytes >= req && (!lim || bytes <= lim);
}

function checkTopology(ctx: CsiContext, t: CreateVolumeRequest['accessibility_requirements']): void {
  const all = [...(t?.requisite ?? []), ...(t?.preferred ?? [])];
  if (all.length === 0) return;
  const ours = all.some((s) => {
    const seg = s.segments ?? {};
    return Object.keys(seg).length === 0 || seg[TOPOLOGY_KEY] === ctx.nodeId;
  });
  if (!ours) throw resourceExhausted(`volumes of this driver live on node ${ctx.nodeId} only; accessibility_requirements exclude it`);
}

export async function createVolume(ctx: CsiContext, req: CreateVolumeRequest): Promise<{ volume: CsiVolume }> {
  const name = checkName(req.name);
  const caps = parseCapabilities(req.volume_capabilities);
  checkSupported(caps);
  const parameters = checkParameters(req.parameters);
  const mutableParameters = checkMutableParameters(req.mutable_parameters);
  for (const c of caps) {
    if (c.fsType && parameters.fsType && c.fsType !== parameters.fsType)
      throw invalidArgument(`fs_type ${c.fsType} conflicts with parameters.fsType ${parameters.fsType}`);
  }
  const fsType = parameters.fsType ?? caps.find((c) => c.fsType)?.fsType;
  if (fsType) parameters.fsType = fsType;
  checkTopology(ctx, req.accessibility_requirements);

  const src = req.volume_content_source;
  let source: VolumeRecord['source'];
  let sourceBytes = 0;
  // Snapshots and volumes live on one node; a clone or restore can only be
  // made where its source is. Anywhere else the source "does not exist" (the
  // spec's NOT_FOUND), and the message says why.
  const elsewhere = (what: string) =>
    `${what}; it is not on node ${ctx.nodeId} (volumes and snapshots of this driver are node-local: a clone or restore is provisioned only on its source's node)`;
  if (src?.type === 'snapshot' || src?.snapshot) {
    const snapId = checkId(src.snapshot?.snapshot_id, 'volume_content_source.snapshot.snapshot_id');
    const snap = ctx.store.snapshot(snapId)?.status === 'ready' ? getSnapshot(ctx, snapId) : undefined;
    if (!snap) throw notFound(elsewhere(`source snapshot ${snapId} does not exist`));
    source = { snapshotId: snap.id };
    sourceBytes = snap.sizeBytes;
  } else if (src?.type === 'volume' || src?.volume) {
    const volId = checkId(src.volume?.volume_id, 'volume_content_source.volume.volume_id');
    let vol: ReturnType<typeof getVolume>;
    try {
      vol = getVolume(ctx, volId);
    } catch {
      throw notFound(elsewhere(`source volume ${volId} does not exist`));
    }
    source = { volumeId: vol.id };
    sourceBytes = vol.capacityBytes;
  }
  const size = sizeFor(req.capacity_range, sourceBytes || undefined);
  if (sourceBytes > size) throw outOfRange(`the source holds ${sourceBytes} bytes, more than the requested capacity ${size}`);

  const id = volumeIdFor(name);
  return ctx.lock.run(id, async () => {
    const existing = ctx.store.volume(id);
    if (existing?.status === 'ready') {
      if (!fitsRange(existing.capacityBytes, req.capacity_range))
        throw alreadyExists(`volume ${name} exists with capacity ${existing.capacityBytes}, incompatible with the request`);
      if (JSON.stringify(existing.source ?? {}) !== JSON.stringify(source ?? {})) throw alreadyExists(`volume ${name} exists with another content source`);
      if ((existing.parameters.fsType ?? '') !== (parameters.fsType ?? '')) throw alreadyExists(`volume ${name} exists with another fsType`);
      return { volume: toCsiVolume(ctx, existing) };
    }
    // A leftover from a crash (creating) or an interrupted delete: finish it off
    // first (its record too, or the capacity check would count it twice).
    if (existing) {
      await removeImage(imagePath(ctx, id));
      await ctx.store.removeVolume(id);
    }

    const live = ctx.store.countVolumes('ready');
    if (live >= ctx.maxVolumes) throw resourceExhausted(`node ${ctx.nodeId} already holds its maximum of ${ctx.maxVolumes} volumes`);

    const rec: VolumeRecord = {
      id,
      name,
      capacityBytes: size,
      status: 'creating',
      parameters,
      mutableParameters,
      createdAt: new Date().toISOString(),
      publish: {},
      ...(source ? { source } : { blank: true }),
    };
    const img = imagePath(ctx, id);
    // RESOURCE_EXHAUSTED, not OUT_OF_RANGE: this node is full, another may not
    // be (external-provisioner reschedules a WaitForFirstConsumer claim on it).
    const refuse = resourceExhausted;
    if (!source) {
      // A blank volume is one record write: its image is made at first use
      // (image.ts materializeImage: Stage, expansion, a snapshot or clone of
      // it), all zeros, exactly what it would hold now. A spare, when taken,
      // comes first, then the record that makes it a volume: a crash before
      // the record leaves an image no record owns, which start-up reconcile
      // removes like any other orphan.
      rec.status = 'ready';
      try {
        await withRoomFor(ctx, { id, more: size, total: size }, refuse, async () => {
          // A filesystem volume takes a pre-formatted spare when there is one: Stage then skips mkfs.
          const fsWanted = (parameters.fsType ?? 'ext4') as FsType;
          if (SUPPORTED_FS.includes(fsWanted) && caps.every((c) => !c.block) && (await ctx.spares?.take(fsWanted, size, img))) {
            delete rec.blank;
            rec.formatted = fsWanted;
          }
          await ctx.store.putVolume(rec);
        });
      } catch (e) {
        if (ctx.store.volume(id)?.status !== 'ready') await removeImage(img).catch(() => {});
        // Short of room: spares give their space back for the CO's retry.
        if (e instanceof GrpcError && e.code === status.RESOURCE_EXHAUSTED) await ctx.spares?.drain();
        throw diskFullAsStatus(e, `CreateVolume ${name}`);
      }
      ctx.log.debug({ volume_id: id, bytes: size }, 'volume created');
      return { volume: toCsiVolume(ctx, rec) };
    }
    // A copy takes long and writes much: its intent is on disk first.
    await withRoomFor(ctx, { id, more: size, total: size }, refuse, () => ctx.store.putVolume(rec));
    try {
      if (source.snapshotId) {
        await ctx.copier.copy(snapshotPath(ctx, source.snapshotId), img);
        await growImage(img, size);
      } else if (source.volumeId) {
        const srcVol = source.volumeId;
        // The source's lock: no Stage, expand or delete of it mid-copy.
        await ctx.lock.run(srcVol, async () => {
          const sv = ctx.store.volume(srcVol);
          if (sv) await materializeImage(imagePath(ctx, srcVol), sv);
          await withQuiescedVolume(ctx, srcVol, () => ctx.copier.copy(imagePath(ctx, srcVol), img));
        });
        await growImage(img, size);
      }
      rec.status = 'ready';
      await ctx.store.putVolume(rec);
    } catch (e) {
      // Undo: no image and no record, as if the call never happened.
      await removeImage(img).catch(() => {});
      await ctx.store.removeVolume(id).catch(() => {});
      throw diskFullAsStatus(e, `CreateVolume ${name}`);
    }
    ctx.log.debug({ volume_id: id, bytes: size }, 'volume created');
    return { volume: toCsiVolume(ctx, rec) };
  });
}
