// The CNI result in one internal shape (1.1.0's), read from and written to
// every supported version. 0.3.x/0.4.0 carry ips[].version; 1.0.0 dropped it;
// 1.1.0 added interface mtu/socketPath/pciID and route mtu/advmss/priority/table/scope.
import { CniError, Code } from './errors.ts';
import { isObj } from '../lib/objects.ts';
import { familyOf } from '../lib/ip-family.ts';

export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;
export type CniVersion = (typeof SUPPORTED_VERSIONS)[number];

export interface Interface {
  name: string;
  mac?: string;
  mtu?: number;
  sandbox?: string;
  socketPath?: string;
  pciID?: string;
}

export interface IpConfig {
  address: string; // CIDR
  gateway?: string;
  interface?: number;
}

export interface Route {
  dst: string;
  gw?: string;
  mtu?: number;
  advmss?: number;
  priority?: number;
  table?: number;
  scope?: number;
}

export interface Dns {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

export interface Result {
  interfaces?: Interface[];
  ips?: IpConfig[];
  routes?: Route[];
  dns?: Dns;
}

export function isSupportedVersion(v: string): v is CniVersion {
  return (SUPPORTED_VERSIONS as readonly string[]).includes(v);
}

/** Compare dotted versions: negative when a < b. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number),
    pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

function bad(field: string, why: string): CniError {
  return new CniError(Code.Decode, `prevResult.${field} ${why}`);
}

/** Read a result of any supported version (e.g. `prevResult`) into the internal shape. */
export function parseResult(raw: unknown, where = 'prevResult'): Result {
  if (!isObj(raw)) throw new CniError(Code.Decode, `${where} must be an object`);
  const out: Result = {};
  if (raw.interfaces !== undefined) {
    if (!Array.isArray(raw.interfaces)) throw bad('interfaces', 'must be a list');
    out.interfaces = raw.interfaces.map((i, n) => {
      if (!isObj(i) || !str(i.name)) throw bad(`interfaces[${n}].name`, 'must be a string');
      const itf: Interface = { name: i.name as string };
      for (const k of ['mac', 'sandbox', 'socketPath', 'pciID'] as const) if (str(i[k]) !== undefined) itf[k] = i[k] as string;
      if (num(i.mtu) !== undefined) itf.mtu = i.mtu as number;
      return itf;
    });
  }
  if (raw.ips !== undefined) {
    if (!Array.isArray(raw.ips)) throw bad('ips', 'must be a list');
    out.ips = raw.ips.map((i, n) => {
      if (!isObj(i) || !str(i.address)) throw bad(`ips[${n}].address`, 'must be a CIDR string');
      const ip: IpConfig = { address: i.address as string };
      if (str(i.gateway)) ip.gateway = i.gateway as string;
      if (num(i.interface) !== undefined) ip.interface = i.interface as number;
      return ip;
    });
  }
  if (raw.routes !== undefined) {
    if (!Array.isArray(raw.routes)) throw bad('routes', 'must be a list');
    out.routes = raw.routes.map((r, n) => {
      if (!isObj(r) || !str(r.dst)) throw bad(`routes[${n}].dst`, 'must be a CIDR string');
      const route: Route = { dst: r.dst as string };
      if (str(r.gw)) route.gw = r.gw as string;
      for (const k of ['mtu', 'advmss', 'priority', 'table', 'scope'] as const) if (num(r[k]) !== undefined) route[k] = r[k] as number;
      return route;
    });
  }
  if (isObj(raw.dns)) out.dns = raw.dns as Dns;
  return out;
}

/** Render a result for the version the config asked for. */
export function convertResult(r: Result, version: CniVersion): Record<string, unknown> {
  const pre1 = compareVersions(version, '1.0.0') < 0;
  const has11 = compareVersions(version, '1.1.0') >= 0;
  const out: Record<string, unknown> = { cniVersion: version };
  if (r.interfaces) {
    out.interfaces = r.interfaces.map((i) => {
      const o: Record<string, unknown> = { name: i.name };
      if (i.mac !== undefined) o.mac = i.mac;
      if (has11 && i.mtu !== undefined) o.mtu = i.mtu;
      if (i.sandbox !== undefined) o.sandbox = i.sandbox;
      if (has11 && i.socketPath !== undefined) o.socketPath = i.socketPath;
      if (has11 && i.pciID !== undefined) o.pciID = i.pciID;
      return o;
    });
  }
  if (r.ips) {
    out.ips = r.ips.map((ip) => {
      const o: Record<string, unknown> = {};
      if (pre1) o.version = String(familyOf(ip.address));
      o.address = ip.address;
      if (ip.gateway !== undefined) o.gateway = ip.gateway;
      if (ip.interface !== undefined) o.interface = ip.interface;
      return o;
    });
  }
  if (r.routes) {
    out.routes = r.routes.map((rt) => {
      const o: Record<string, unknown> = { dst: rt.dst };
      if (rt.gw !== undefined) o.gw = rt.gw;
      if (has11) for (const k of ['mtu', 'advmss', 'priority', 'table', 'scope'] as const) if (rt[k] !== undefined) o[k] = rt[k];
      return o;
    });
  }
  out.dns = r.dns ?? {};
  return out;
}
