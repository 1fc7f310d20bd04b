// What discovery reports for one physical device, before sharing replicas.
import { createHash } from 'node:crypto';

export interface DiscoveredDevice {
  /** Stable id (≤ 63 chars minus the sharing suffix); also the CDI device name. */
  id: string;
  /** Host device nodes handed to a container that gets this device. */
  nodes: string[];
  /** NUMA node from sysfs, undefined when unknown or -1. */
  numa?: number;
  /** False when the device is present but unusable (e.g. its node file is missing). */
  usable: boolean;
}

export const MAX_ID = 63;

/**
 * A kubelet device id (and CDI device name) from an arbitrary string: only
 * [A-Za-z0-9._:-], at most `max` chars. Long ids keep their tail, which is
 * where the distinguishing number usually is, plus a short hash of the whole.
 */
export function makeId(raw: string, max: number): string {
  let id = raw.replace(/[^A-Za-z0-9._:-]/g, '_').replace(/^[^A-Za-z0-9]+/, '');
  if (id === '') id = 'dev';
  if (id.length <= max) return id;
  const hash = createHash('sha1').update(raw).digest('hex').slice(0, 8);
  return `${hash}-${id.slice(id.length - (max - hash.length - 1))}`.replace(/-[^A-Za-z0-9]+/, '-');
}

/** `/dev/nvidia0` → `nvidia0`, `/dev/net/tun` → `net_tun`, `/tmp/x/dev3` → `dev3`. */
export function idForPath(path: string, max: number): string {
  const rel = path.startsWith('/dev/') ? path.slice(5).replace(/\//g, '_') : path.slice(path.lastIndexOf('/') + 1);
  return makeId(rel, max);
}
