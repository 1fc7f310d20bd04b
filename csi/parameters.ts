// StorageClass parameters (CreateVolume.parameters) and mutable parameters
// (VolumeAttributesClass: CreateVolume/ControllerModifyVolume
// .mutable_parameters). Unknown keys are refused by name: a typo in a
// StorageClass should fail loudly, not be silently ignored.
import { invalidArgument } from '../lib/grpc/status-error.ts';
import { SUPPORTED_FS, type FsType } from './volumes/filesystem.ts';

// external-provisioner may pass PVC/PV metadata under this prefix.
const PASSTHROUGH_PREFIX = 'csi.storage.k8s.io/';

export function checkParameters(p: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(p ?? {})) {
    if (k.startsWith(PASSTHROUGH_PREFIX)) continue;
    if (k === 'fsType') {
      if (!(SUPPORTED_FS as readonly string[]).includes(v)) throw invalidArgument(`parameters.fsType ${JSON.stringify(v)} is not supported (ext4, xfs)`);
      out[k] = v;
    } else {
      throw invalidArgument(`parameters.${k} is not a known parameter (fsType)`);
    }
  }
  return out;
}

export const MUTABLE_KEYS = ['readAheadKB', 'directIO'] as const;

/** readAheadKB: 0..65536 KiB of loop-device read-ahead; directIO: "true"/"false" for the loop device. */
export function checkMutableParameters(p: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(p ?? {})) {
    if (k === 'readAheadKB') {
      if (!/^\d{1,5}$/.test(v) || Number(v) > 65536) throw invalidArgument('mutable_parameters.readAheadKB must be an integer 0..65536');
    } else if (k === 'directIO') {
      if (v !== 'true' && v !== 'false') throw invalidArgument('mutable_parameters.directIO must be "true" or "false"');
    } else {
      throw invalidArgument(`mutable_parameters.${k} is not a known mutable parameter (${MUTABLE_KEYS.join(', ')})`);
    }
    out[k] = v;
  }
  return out;
}

/** NodePublishVolume.volume_context says the volume is an inline ephemeral one (kubelet, with podInfoOnMount). */
export const EPHEMERAL_KEY = 'csi.storage.k8s.io/ephemeral';
export const isEphemeralRequest = (ctx: Record<string, string> | undefined) => ctx?.[EPHEMERAL_KEY] === 'true';

const QUANTITY_RE = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/;
const UNIT: Record<string, number> = { '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };

/** A Kubernetes quantity as pods write it ("64Mi", "1Gi", "500M", "1073741824"), in bytes. */
export function parseQuantity(v: string, field: string): number {
  const m = QUANTITY_RE.exec(v.trim());
  if (!m) throw invalidArgument(`${field} ${JSON.stringify(v.slice(0, 40))} is not a size (e.g. 64Mi, 1Gi, 500M, 1073741824)`);
  const bytes = Math.ceil(Number(m[1]) * UNIT[m[2] ?? '']!);
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw invalidArgument(`${field} ${JSON.stringify(v)} must be a positive size`);
  return bytes;
}

export interface EphemeralAttributes {
  sizeBytes?: number;
  fsType?: FsType;
}

/**
 * The pod's `volumeAttributes` of an inline ephemeral volume: `size` (a
 * quantity) and `fsType`; kubelet's own `csi.storage.k8s.io/*` keys pass.
 * Anything else is refused by name, like a StorageClass typo.
 */
export function checkEphemeralAttributes(p: Record<string, string> | undefined): EphemeralAttributes {
  const out: EphemeralAttributes = {};
  for (const [k, v] of Object.entries(p ?? {})) {
    if (k.startsWith(PASSTHROUGH_PREFIX)) continue;
    if (k === 'size') out.sizeBytes = parseQuantity(v, 'volume_context.size');
    else if (k === 'fsType') {
      if (!(SUPPORTED_FS as readonly string[]).includes(v)) throw invalidArgument(`volume_context.fsType ${JSON.stringify(v)} is not supported (ext4, xfs)`);
      out.fsType = v as FsType;
    } else throw invalidArgument(`volume_context.${k} is not a known attribute of an inline ephemeral volume (size, fsType)`);
  }
  return out;
}
