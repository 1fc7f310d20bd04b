// The line protocol between the CSI driver (helper-client.ts) and
// `hostplane csi-helper` (helper-serve.ts): one JSON object a line each way,
// answered in order. The helper first prints {"ready":true}.
import type { MountRequest } from './kernel-ffi.ts';

export type HelperRequest = { id: number } & (
  | ({ op: 'mount' } & MountRequest)
  | { op: 'umount'; target: string; detachLoop?: string }
  | { op: 'loop-attach'; image: string; readOnly?: boolean; directIo?: boolean }
  | { op: 'loop-detach'; device: string }
  | { op: 'loop-capacity'; device: string }
  | { op: 'loop-direct-io'; device: string; on: boolean }
  | { op: 'loop-list' }
);

export interface HelperLoop {
  device: string;
  ino: string;
  dev: string;
  diskseq?: string;
}

export interface HelperReply {
  id: number;
  ok: boolean;
  /** The errno name of a failed syscall (EBUSY, ENXIO…). */
  code?: string;
  error?: string;
  /** Not something the helper does (an option only mount(8) knows): run the tool instead. */
  unsupported?: boolean;
  device?: string;
  diskseq?: string;
  loops?: HelperLoop[];
}
