// The device plugin's config file (YAML or JSON), validated once here into
// types the rest of the plugin trusts. Every error names the field, e.g.
// `resources[1].name: must be vendor.domain/resource`.
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { errorMessage } from '../lib/errors.ts';

export type DiscoveryRule =
  | { kind: 'path'; glob: string }
  /** PCI functions by vendor and class; deviceNodes pairs them, in address order, with node files. */
  | { kind: 'pci'; vendor: number; classes: string[]; deviceNodes?: string }
  | { kind: 'usb'; vendor: number; product?: number };

export interface DeviceNodeSpec {
  path: string;
  containerPath: string;
  permissions: string;
}
export interface MountSpec {
  hostPath: string;
  containerPath: string;
  readOnly: boolean;
}

export interface ResourceConfig {
  name: string;
  discovery: DiscoveryRule[];
  /** cgroup permissions for discovered device nodes. */
  permissions: string;
  /** Nodes every allocation gets (e.g. /dev/nvidiactl). */
  deviceNodes: DeviceNodeSpec[];
  mounts: MountSpec[];
  env: Record<string, string>;
  /** Env var that receives the comma-separated allocated ids. */
  idsEnv: string;
  annotations: Record<string, string>;
  /** Each physical device is advertised this many times (`<dev>::<n>`). */
  replicas: number;
  /** Write a CDI spec and return CDI device names on Allocate. */
  cdi: boolean;
}

export interface DeviceResourcesConfig {
  resources: ResourceConfig[];
  /** Safety-net rescan period: sysfs emits no inotify events on real hosts. */
  rescanIntervalMs: number;
}

export class DeviceConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeviceConfigError';
  }
}

const RESOURCE_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+\/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const ENV_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const PERM_RE = /^(?=.)r?w?m?$/;
const HEX_RE = /^(0x)?[0-9a-fA-F]+$/;

type Obj = Record<string, unknown>;

function fail(path: string, msg: string): never {
  throw new DeviceConfigError(`${path}: ${msg}`);
}

function obj(v: unknown, path: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(path, 'must be a mapping');
  return v as Obj;
}

function onlyKeys(o: Obj, path: string, allowed: readonly string[]): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) fail(`${path}.${k}`, `unknown field (allowed: ${allowed.join(', ')})`);
}

function str(v: unknown, path: string): string {
  if (typeof v !== 'string' || v === '') fail(path, 'must be a non-empty string');
  return v;
}

function absPath(v: unknown, path: string): string {
  const s = str(v, path);
  if (!s.startsWith('/')) fail(path, 'must be an absolute path');
  return s;
}

function list(v: unknown, path: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) fail(path, 'must be a list');
  return v;
}

function strMap(v: unknown, path: string, keyRe?: RegExp, keyMsg?: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  const o = obj(v, path);
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(o)) {
    if (keyRe && !keyRe.test(k)) fail(`${path}.${k}`, keyMsg ?? 'bad key');
    if (typeof val !== 'string' && typeof val !== 'number' && typeof val !== 'boolean') fail(`${path}.${k}`, 'must be a string');
    out[k] = String(val);
  }
  return out;
}

function hex(v: unknown, path: string, maxDigits: number): string {
  const s = typeof v === 'number' ? v.toString(16) : typeof v === 'string' ? v : fail(path, 'must be a hex string like 0x10de');
  if (!HEX_RE.test(s)) fail(path, 'must be a hex string like 0x10de');
  const digits = s.replace(/^0x/, '').toLowerCase();
  if (digits.length > maxDigits) fail(path, `must have at most ${maxDigits} hex digits`);
  return digits;
}

function perms(v: unknown, path: string, dflt: string): string {
  if (v === undefined) return dflt;
  const s = str(v, path);
  if (!PERM_RE.test(s)) fail(path, 'must be a combination of r, w, m in that order (e.g. rw)');
  return s;
}

function rule(v: unknown, path: string): DiscoveryRule {
  const o = obj(v, path);
  const keys = Object.keys(o);
  if (keys.length !== 1) fail(path, 'must have exactly one of path, pci, usb');
  if ('path' in o) return { kind: 'path', glob: absPath(o.path, `${path}.path`) };
  if ('pci' in o) {
    const p = obj(o.pci, `${path}.pci`);
    onlyKeys(p, `${path}.pci`, ['vendor', 'class', 'deviceNodes']);
    const vendor = parseInt(hex(p.vendor ?? fail(`${path}.pci.vendor`, 'is required'), `${path}.pci.vendor`, 4), 16);
    const rawClasses = p.class === undefined ? [] : Array.isArray(p.class) ? p.class : [p.class];
    const classes = rawClasses.map((c, i) => {
      const d = hex(c, `${path}.pci.class[${i}]`, 6);
      if (d.length % 2 !== 0) fail(`${path}.pci.class[${i}]`, 'must be 2, 4 or 6 hex digits (class, class+subclass, or with prog-if)');
      return d;
    });
    const out: DiscoveryRule = { kind: 'pci', vendor, classes };
    if (p.deviceNodes !== undefined) out.deviceNodes = absPath(p.deviceNodes, `${path}.pci.deviceNodes`);
    return out;
  }
  if ('usb' in o) {
    const u = obj(o.usb, `${path}.usb`);
    onlyKeys(u, `${path}.usb`, ['vendor', 'product']);
    const vendor = parseInt(hex(u.vendor ?? fail(`${path}.usb.vendor`, 'is required'), `${path}.usb.vendor`, 4), 16);
    const out: DiscoveryRule = { kind: 'usb', vendor };
    if (u.product !== undefined) out.product = parseInt(hex(u.product, `${path}.usb.product`, 4), 16);
    return out;
  }
  return fail(`${path}.${keys[0]}`, 'unknown rule (allowed: path, pci, usb)');
}

function defaultIdsEnv(name: string): string {
  return `HOSTPLANE_${name
    .split('/')[1]!
    .toUpperCase()
    .replace(/[^A-Z0-9]/g, '_')}_DEVICES`;
}

const RESOURCE_KEYS = ['name', 'devices', 'permissions', 'deviceNodes', 'mounts', 'env', 'idsEnv', 'annotations', 'sharing', 'cdi'] as const;

function resource(v: unknown, path: string): ResourceConfig {
  const o = obj(v, path);
  onlyKeys(o, path, RESOURCE_KEYS);
  const name = typeof o.name === 'string' ? o.name : '';
  if (!RESOURCE_RE.test(name) || name.length > 253) fail(`${path}.name`, 'must be vendor.domain/resource');
  const rules = list(o.devices, `${path}.devices`);
  if (rules.length === 0) fail(`${path}.devices`, 'must list at least one discovery rule (path, pci or usb)');
  const permissions = perms(o.permissions, `${path}.permissions`, 'rw');
  const deviceNodes = list(o.deviceNodes, `${path}.deviceNodes`).map((d, i): DeviceNodeSpec => {
    const p = `${path}.deviceNodes[${i}]`;
    if (typeof d === 'string') return { path: absPath(d, p), containerPath: d, permissions };
    const m = obj(d, p);
    onlyKeys(m, p, ['path', 'containerPath', 'permissions']);
    const hp = absPath(m.path, `${p}.path`);
    return {
      path: hp,
      containerPath: m.containerPath === undefined ? hp : absPath(m.containerPath, `${p}.containerPath`),
      permissions: perms(m.permissions, `${p}.permissions`, permissions),
    };
  });
  const mounts = list(o.mounts, `${path}.mounts`).map((d, i): MountSpec => {
    const p = `${path}.mounts[${i}]`;
    const m = obj(d, p);
    onlyKeys(m, p, ['hostPath', 'containerPath', 'readOnly']);
    if (m.readOnly !== undefined && typeof m.readOnly !== 'boolean') fail(`${p}.readOnly`, 'must be true or false');
    return { hostPath: absPath(m.hostPath, `${p}.hostPath`), containerPath: absPath(m.containerPath, `${p}.containerPath`), readOnly: m.readOnly === true };
  });
  const env = strMap(o.env, `${path}.env`, ENV_RE, 'must be an environment variable name');
  const idsEnv = o.idsEnv === undefined ? defaultIdsEnv(name) : str(o.idsEnv, `${path}.idsEnv`);
  if (!ENV_RE.test(idsEnv)) fail(`${path}.idsEnv`, 'must be an environment variable name');
  const annotations = strMap(o.annotations, `${path}.annotations`);
  let replicas = 1;
  if (o.sharing !== undefined) {
    const s = obj(o.sharing, `${path}.sharing`);
    onlyKeys(s, `${path}.sharing`, ['replicas']);
    if (typeof s.replicas !== 'number' || !Number.isInteger(s.replicas) || s.replicas < 1 || s.replicas > 1000)
      fail(`${path}.sharing.replicas`, 'must be an integer from 1 to 1000');
    replicas = s.replicas;
  }
  if (o.cdi !== undefined && typeof o.cdi !== 'boolean') fail(`${path}.cdi`, 'must be true or false');
  return {
    name,
    discovery: rules.map((r, i) => rule(r, `${path}.devices[${i}]`)),
    permissions,
    deviceNodes,
    mounts,
    env,
    idsEnv,
    annotations,
    replicas,
    cdi: o.cdi !== false,
  };
}

/** Validate a parsed config document. Throws DeviceConfigError naming the first bad field. */
export function validateConfig(raw: unknown): DeviceResourcesConfig {
  const o = obj(raw ?? {}, 'config');
  onlyKeys(o, 'config', ['resources', 'rescanIntervalSeconds']);
  const resources = list(o.resources, 'resources').map((r, i) => resource(r, `resources[${i}]`));
  const seen = new Set<string>();
  resources.forEach((r, i) => {
    if (seen.has(r.name)) fail(`resources[${i}].name`, `duplicate resource ${r.name}`);
    seen.add(r.name);
  });
  let rescan = 10;
  if (o.rescanIntervalSeconds !== undefined) {
    if (typeof o.rescanIntervalSeconds !== 'number' || !(o.rescanIntervalSeconds >= 0))
      fail('rescanIntervalSeconds', 'must be a number ≥ 0 (0 turns the periodic rescan off)');
    rescan = o.rescanIntervalSeconds;
  }
  return { resources, rescanIntervalMs: rescan * 1000 };
}

export function parseConfigText(text: string, source: string): DeviceResourcesConfig {
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (e) {
    throw new DeviceConfigError(`${source}: not valid YAML/JSON: ${errorMessage(e)}`);
  }
  try {
    return validateConfig(raw);
  } catch (e) {
    if (e instanceof DeviceConfigError) throw new DeviceConfigError(`${source}: ${e.message}`);
    throw e;
  }
}

export async function loadConfigFile(path: string): Promise<DeviceResourcesConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new DeviceConfigError(`${path}: cannot read: ${errorMessage(e)}`);
  }
  return parseConfigText(text, path);
}
