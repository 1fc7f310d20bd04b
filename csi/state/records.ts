// The durable shape of what the driver knows. Each record carries a status so
// that a crash between "decided" and "done" is visible at the next start-up:
// work is recorded as intent first, then done, then marked complete.

export type VolumeStatus = 'creating' | 'ready' | 'deleting';

export interface StageRecord {
  path: string;
  block: boolean;
  fsType?: string;
  mountFlags?: string[];
  /** False while Stage is under way: a crash leaves the intent for reconcile. */
  complete: boolean;
}

export interface PublishRecord {
  readonly: boolean;
  block: boolean;
}

/** A ControllerPublish to a node (always this one): what the CO asked for, to answer a repeat idempotently. */
export interface AttachRecord {
  readonly: boolean;
  block: boolean;
  mode: string;
}

/**
 * An inline ephemeral volume (a pod's `csi:` volume): made by NodePublish,
 * gone at NodeUnpublish. Its record id is derived from kubelet's volume
 * handle (`ephemeralIdFor`), so it can never collide with a CO volume.
 */
export interface EphemeralRecord {
  /** The volume_id kubelet uses for it (csi-<sha256(pod uid, volume name)>). */
  handle: string;
  targetPath: string;
  readonly: boolean;
  fsType: string;
}

export interface VolumeRecord {
  id: string;
  name: string;
  capacityBytes: number;
  status: VolumeStatus;
  parameters: Record<string, string>;
  mutableParameters: Record<string, string>;
  source?: { snapshotId?: string; volumeId?: string };
  createdAt: string;
  stage?: StageRecord;
  /** Never written since creation (no source, never used as a block device): skip filesystem detection. */
  blank?: boolean;
  /** Made from a spare (volumes/spares.ts): holds a fresh, empty filesystem of this type, never mounted; Stage skips mkfs. */
  formatted?: string;
  /** The image grew but the filesystem inside has not yet: grown at the next NodeExpand or Stage. */
  fsGrowPending?: boolean;
  publish: Record<string, PublishRecord>;
  /** ControllerPublish records by node id; absent in records written before it was offered. */
  attached?: Record<string, AttachRecord>;
  /** Set only on inline ephemeral volumes, which the Controller service never sees. */
  ephemeral?: EphemeralRecord;
}

export type SnapshotStatus = 'creating' | 'ready' | 'deleting';

export interface SnapshotRecord {
  id: string;
  name: string;
  sourceVolumeId: string;
  sizeBytes: number;
  status: SnapshotStatus;
  /** Unix time in ms. */
  createdAtMs: number;
}
