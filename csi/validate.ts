// Requests are checked here, at the boundary, before anything else happens:
// a missing field is INVALID_ARGUMENT naming the field (csi-sanity checks that
// nothing is touched first), and ids and paths are checked so that no request
// can make the driver read or write outside its data dir.
import { isAbsolute, normalize } from 'node:path';
import { isSafeName } from '../lib/names.ts';
import { invalidArgument, outOfRange } from '../lib/grpc/status-error.ts';
import type { AccessModeName, CapacityRange, VolumeCapability } from './types.ts';
import { SUPPORTED_FS, type FsType } from './volumes/filesystem.ts';

// Our ids are 'v-'/'s-' + hex; anything else is accepted by shape only so
// that "unknown id" can be told apart from "malformed id".
export const MAX_ID_LENGTH = 128;
export const isWellFormedId = (id: string) => isSafeName(id, MAX_ID_LENGTH) && !id.includes('..');

export function required<T>(value: T | null | undefined | '', field: string): T {
  if (value === undefined || value === null || value === '') throw invalidArgument(`${field} is required`);
  return value;
}

/** A well-formed id (no '/', no '..'); unknown ids are the caller's NOT_FOUND. */
export function checkId(id: string | undefined, field: string): string {
  const v = required(id, field);
  if (!isWellFormedId(v)) throw invalidArgument(`${field} ${JSON.stringify(v.slice(0, 80))} is malformed`);
  return v;
}

/** CreateVolume/CreateSnapshot names: any Unicode except control characters, at most 128 bytes here. */
export function checkName(name: string | undefined, field = 'name'): string {
  const v = required(name, field);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point of this check
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/.test(v)) throw invalidArgument(`${field} contains control characters`);
  if (Buffer.byteLength(v) > 1024) throw invalidArgument(`${field} is longer than 1024 bytes`);
  return v;
}

/** Staging and target paths are the CO's, anywhere on the host, but absolute and without '..'. */
export function checkPath(p: string | undefined, field: string): string {
  const v = required(p, field);
  if (!isAbsolute(v) || v.includes('\0') || v.split('/').includes('..')) throw invalidArgument(`${field} must be an absolute path without ".."`);
  return normalize(v).replace(/\/+$/, '') || '/';
}

export const SUPPORTED_MODES: readonly AccessModeName[] = [
  'SINGLE_NODE_WRITER',
  'SINGLE_NODE_READER_ONLY',
  'SINGLE_NODE_SINGLE_WRITER',
  'SINGLE_NODE_MULTI_WRITER',
];

export interface ParsedCapability {
  block: boolean;
  fsType?: FsType;
  mountFlags: string[];
  mode: AccessModeName;
  readOnlyMode: boolean;
}

/** Structural checks (always INVALID_ARGUMENT). Whether the mode is supported is `unsupportedReason`. */
export function parseCapability(c: VolumeCapability | null | undefined, field: string): ParsedCapability {
  if (!c) throw invalidArgument(`${field} is required`);
  const mode = c.access_mode?.mode;
  if (!mode || mode === 'UNKNOWN') throw invalidArgument(`${field}.access_mode is required`);
  if (c.access_type !== 'block' && c.access_type !== 'mount') throw invalidArgument(`${field}.access_type (block or mount) is required`);
  const fs = c.access_type === 'mount' ? (c.mount?.fs_type ?? '') : '';
  const flags = c.access_type === 'mount' ? [...(c.mount?.mount_flags ?? [])] : [];
  for (const f of flags) if (!/^[A-Za-z0-9_.=:,/+-]+$/.test(f)) throw invalidArgument(`${field}.mount.mount_flags has an unsupported flag`);
  const parsed: ParsedCapability = {
    block: c.access_type === 'block',
    mountFlags: flags,
    mode,
    readOnlyMode: mode === 'SINGLE_NODE_READER_ONLY',
  };
  if (fs) parsed.fsType = fs as FsType;
  return parsed;
}

/** Why this driver cannot honour a capability, or undefined when it can. */
export function unsupportedReason(c: ParsedCapability): string | undefined {
  if (!SUPPORTED_MODES.includes(c.mode)) return `access mode ${c.mode} is not supported: volumes are node-local`;
  if (c.fsType && !(SUPPORTED_FS as readonly string[]).includes(c.fsType)) return `fs_type ${c.fsType} is not supported (ext4, xfs)`;
  return undefined;
}

export function parseCapabilities(caps: readonly VolumeCapability[] | undefined, field = 'volume_capabilities'): ParsedCapability[] {
  if (!caps || caps.length === 0) throw invalidArgument(`${field} is required`);
  return caps.map((c, i) => parseCapability(c, `${field}[${i}]`));
}

export function checkSupported(caps: readonly ParsedCapability[]): void {
  for (const c of caps) {
    const why = unsupportedReason(c);
    if (why) throw invalidArgument(why);
  }
}

const MiB = 1024 * 1024;
export const DEFAULT_VOLUME_BYTES = 1024 * MiB;
/** The largest image we agree to create; anything larger is a typo or an attack. */
export const MAX_VOLUME_BYTES = 64 * 1024 * 1024 * MiB;

/** Pick the volume size for a range: at least required, never above limit, rounded up to whole MiB. */
export function sizeFor(range: CapacityRange | null | undefined, fallback = DEFAULT_VOLUME_BYTES): number {
  const req = range?.required_bytes ?? 0;
  const lim = range?.limit_bytes ?? 0;
  if (req < 0 || lim < 0) throw invalidArgument('capacity_range bytes must not be negative');
  if (lim && req > lim) throw invalidArgument('capacity_range.required_bytes exceeds limit_bytes');
  let size = req || Math.min(fallback, lim || fallback);
  size = Math.ceil(size / MiB) * MiB;
  if (lim && size > lim) size = Math.floor(lim / 4096) * 4096;
  if (size <= 0) throw outOfRange('capacity_range.limit_bytes is below the smallest volume (4 KiB)');
  if (size > MAX_VOLUME_BYTES) throw outOfRange(`capacity ${size} bytes exceeds the maximum volume size ${MAX_VOLUME_BYTES}`);
  return size;
}
