// StorageClass parameters (CreateVolume.parameters) and mutable parameters
// (VolumeAttributesClass: CreateVolume/ControllerModifyVolume
// .mutable_parameters). Unknown keys are refused by name: a typo in a
// StorageClass should fail loudly, not be silently ignored.
import { invalidArgument } from '../lib/grpc/status-error.ts';
import { SUPPORTED_FS } from './volumes/filesystem.ts';

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
