// The request/response shapes we read and write, as proto-loader hands them
// over (keepCase, enums as strings, int64 as number, unset messages null).
// Only the fields hostplane uses are declared.

export type AccessModeName =
  | 'UNKNOWN'
  | 'SINGLE_NODE_WRITER'
  | 'SINGLE_NODE_READER_ONLY'
  | 'MULTI_NODE_READER_ONLY'
  | 'MULTI_NODE_SINGLE_WRITER'
  | 'MULTI_NODE_MULTI_WRITER'
  | 'SINGLE_NODE_SINGLE_WRITER'
  | 'SINGLE_NODE_MULTI_WRITER';

export interface VolumeCapability {
  block?: Record<string, never> | null;
  mount?: { fs_type?: string; mount_flags?: string[]; volume_mount_group?: string } | null;
  access_type?: 'block' | 'mount';
  access_mode?: { mode?: AccessModeName } | null;
}

export interface CapacityRange {
  required_bytes?: number;
  limit_bytes?: number;
}

export interface Topology {
  segments: Record<string, string>;
}

export interface VolumeContentSource {
  snapshot?: { snapshot_id?: string } | null;
  volume?: { volume_id?: string } | null;
  type?: 'snapshot' | 'volume';
}

export interface CsiVolume {
  capacity_bytes: number;
  volume_id: string;
  volume_context: Record<string, string>;
  content_source: VolumeContentSource | null;
  accessible_topology: Topology[];
}

export interface CsiSnapshot {
  size_bytes: number;
  snapshot_id: string;
  source_volume_id: string;
  creation_time: { seconds: number; nanos: number };
  ready_to_use: boolean;
  group_snapshot_id: string;
}

export interface VolumeCondition {
  abnormal: boolean;
  message: string;
}
