// What every handler needs: the node's identity, the state store, the
// per-volume lock and the host seams. Built once by driver.ts; unit tests
// build one with fakes.
import { createHash } from 'node:crypto';
import type { Logger } from '../lib/logging.ts';
import type { HostExec } from '../lib/exec.ts';
import { notFound } from '../lib/grpc/status-error.ts';
import type { StateStore } from './state/store.ts';
import { imageFile, snapshotFile } from './state/layout.ts';
import type { KeyedMutex } from './state/keyed-mutex.ts';
import type { VolumeRecord, SnapshotRecord } from './state/records.ts';
import type { LoopDevices } from './volumes/loop.ts';
import type { Filesystems } from './volumes/filesystem.ts';
import type { MountTable } from './volumes/mounts.ts';
import type { ImageCopier } from './volumes/snapshot.ts';
import type { CapacityPolicy } from './volumes/capacity.ts';
import type { SparePool } from './volumes/spares.ts';
import type { CsiSnapshot, CsiVolume, Topology } from './types.ts';

export const TOPOLOGY_KEY = 'topology.hostplane.io/node';

export interface CsiContext {
  driverName: string;
  nodeId: string;
  dataDir: string;
  maxVolumes: number;
  log: Logger;
  store: StateStore;
  lock: KeyedMutex;
  loops: LoopDevices;
  fs: Filesystems;
  mounts: MountTable;
  copier: ImageCopier;
  exec: HostExec;
  /** Disk policy (volumes/capacity.ts); defaults when absent. */
  capacity?: CapacityPolicy;
  /** Pre-formatted images for new filesystem volumes (volumes/spares.ts); none when absent. */
  spares?: SparePool;
}

export const imagePath = (ctx: CsiContext, id: string) => imageFile(ctx.dataDir, id);
export const snapshotPath = (ctx: CsiContext, id: string) => snapshotFile(ctx.dataDir, id);

// Ids are derived from the CO's name: a Create retried after a crash lands on
// the same id (and the same intent record), and no name can shape a path.
export const volumeIdFor = (name: string) => `v-${createHash('sha256').update(name).digest('hex').slice(0, 32)}`;
export const snapshotIdFor = (name: string) => `s-${createHash('sha256').update(name).digest('hex').slice(0, 32)}`;
/** Inline ephemeral volumes: kubelet names them; our id is derived, in its own `e-` space. */
export const ephemeralIdFor = (handle: string) => `e-${createHash('sha256').update(handle).digest('hex').slice(0, 32)}`;

export const nodeTopology = (ctx: CsiContext): Topology => ({ segments: { [TOPOLOGY_KEY]: ctx.nodeId } });

/**
 * A CO volume that exists and is usable; NOT_FOUND otherwise (half-created
 * ones included, and inline ephemeral ones, which only their pod's
 * NodePublish/NodeUnpublish/NodeGetVolumeStats may touch).
 */
export function getVolume(ctx: CsiContext, id: string): VolumeRecord {
  const v = ctx.store.volume(id);
  if (v?.status !== 'ready' || v.ephemeral) throw notFound(`volume ${id} does not exist`);
  return v;
}

/** The inline ephemeral volume kubelet knows as `handle`, in any status. */
export function ephemeralVolume(ctx: CsiContext, handle: string): VolumeRecord | undefined {
  const v = ctx.store.volume(ephemeralIdFor(handle));
  return v?.ephemeral?.handle === handle ? v : undefined;
}

export function getSnapshot(ctx: CsiContext, id: string): SnapshotRecord {
  const s = ctx.store.snapshot(id);
  if (s?.status !== 'ready') throw notFound(`snapshot ${id} does not exist`);
  return s;
}

export function toCsiVolume(ctx: CsiContext, v: VolumeRecord): CsiVolume {
  let content_source: CsiVolume['content_source'] = null;
  if (v.source?.snapshotId) content_source = { snapshot: { snapshot_id: v.source.snapshotId } };
  else if (v.source?.volumeId) content_source = { volume: { volume_id: v.source.volumeId } };
  return {
    capacity_bytes: v.capacityBytes,
    volume_id: v.id,
    volume_context: { ...v.parameters },
    content_source,
    accessible_topology: [nodeTopology(ctx)],
  };
}

export function toCsiSnapshot(s: SnapshotRecord): CsiSnapshot {
  return {
    size_bytes: s.sizeBytes,
    snapshot_id: s.id,
    source_volume_id: s.sourceVolumeId,
    creation_time: { seconds: Math.floor(s.createdAtMs / 1000), nanos: (s.createdAtMs % 1000) * 1e6 },
    ready_to_use: true,
    group_snapshot_id: '',
  };
}
