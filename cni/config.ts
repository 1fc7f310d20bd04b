// The network configuration (stdin), validated once into types the rest of the
// plugin trusts. Every rejection names the offending field.
import { CniError, Code } from './errors.ts';
import { type CniVersion, type Result, type Dns, isSupportedVersion, parseResult } from './result.ts';
import { type Ip, parseIp, parseCidr } from './ipam/ip.ts';
import { type RangeSet, makeRange } from './ipam/range.ts';
import { LEVEL_NAMES, type LevelName } from './log.ts';
import { isMac, isSafeName } from '../lib/names.ts';
import { isObj } from '../lib/objects.ts';

export interface IpamRoute {
  dst: string;
  gw?: string;
}

/** `ipam.type: "hostplane"`: the built-in allocator (cni/ipam/builtin.ts). */
export interface HostplaneIpam {
  kind: 'builtin';
  type: 'hostplane';
  rangeSets: RangeSet[];
  routes: IpamRoute[];
  dataDir: string;
}

/** Any other `ipam.type`: a delegated IPAM plugin found on CNI_PATH (cni/ipam/delegated.ts). */
export interface DelegateIpam {
  kind: 'delegate';
  /** The plugin's name. */
  type: string;
}

export type IpamConf = HostplaneIpam | DelegateIpam;

export interface NetConf {
  cniVersion: CniVersion;
  name: string;
  type: string;
  bridge: string;
  isGateway: boolean;
  isDefaultGateway: boolean;
  forceAddress: boolean;
  ipMasq: boolean;
  mtu: number;
  hairpinMode: boolean;
  promiscMode: boolean;
  ipam?: IpamConf;
  dns?: Dns;
  logFile?: string;
  logLevel: LevelName;
  prevResult?: Result;
  /** runtimeConfig.mac / args.cni.mac */
  mac?: string;
  /** runtimeConfig.ips / args.cni.ips (CIDR or plain address strings) */
  ips: Ip[];
  /** GC: the attachments the runtime still considers live. */
  validAttachments?: { containerID: string; ifname: string }[];
  /** The exact bytes we were given, for a delegated IPAM plugin. */
  raw: Buffer;
}

export const DEFAULT_DATA_DIR = '/var/lib/cni/networks';
// Network names are also directory names and nft identifiers' seeds.

export function isValidIfname(n: string): boolean {
  return n.length > 0 && Buffer.byteLength(n) <= 15 && n !== '.' && n !== '..' && !/[\s/:]/.test(n);
}

const invalid = (field: string, why: string) => new CniError(Code.InvalidConfig, `invalid config: ${field} ${why}`);

function optBool(o: Record<string, unknown>, k: string, dflt: boolean): boolean {
  const v = o[k];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'boolean') throw invalid(k, 'must be a boolean');
  return v;
}

function optString(o: Record<string, unknown>, k: string, where = k): string | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw invalid(where, 'must be a string');
  return v;
}

/** Parse only as far as the version: enough to answer VERSION and to shape error replies. */
export function peekVersion(stdin: Buffer): string | undefined {
  try {
    const o: unknown = JSON.parse(stdin.toString('utf8'));
    return isObj(o) && typeof o.cniVersion === 'string' ? o.cniVersion : undefined;
  } catch {
    return undefined;
  }
}

export function parseNetConf(stdin: Buffer): NetConf {
  let o: unknown;
  try {
    o = JSON.parse(stdin.toString('utf8'));
  } catch (e) {
    throw new CniError(Code.Decode, 'network configuration is not valid JSON', (e as Error).message);
  }
  if (!isObj(o)) throw new CniError(Code.Decode, 'network configuration must be a JSON object');
  const v = o.cniVersion;
  if (typeof v !== 'string' || v === '') throw invalid('cniVersion', 'is required');
  if (!isSupportedVersion(v)) throw new CniError(Code.IncompatibleVersion, `incompatible CNI version ${v}`, 'supported: 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0');
  const name = optString(o, 'name');
  if (!name || !isSafeName(name)) throw invalid('name', 'must be a non-empty string of letters, digits, "_", "." and "-"');
  const type = optString(o, 'type') ?? '';
  const bridge = optString(o, 'bridge') ?? 'cni0';
  if (!isValidIfname(bridge)) throw invalid('bridge', `"${bridge}" is not a valid interface name (1-15 bytes, no "/", ":" or spaces)`);
  let mtu = 1500;
  if (o.mtu !== undefined && o.mtu !== null && o.mtu !== 0) {
    if (typeof o.mtu !== 'number' || !Number.isInteger(o.mtu) || o.mtu < 68 || o.mtu > 65535) throw invalid('mtu', 'must be an integer from 68 to 65535');
    mtu = o.mtu;
  }
  // Keys of the reference bridge plugin this one does not implement: refuse a
  // non-default value rather than silently ignoring it.
  for (const k of ['vlan', 'vlanTrunk', 'preserveDefaultVlan', 'macspoofchk', 'disableContainerInterface', 'portIsolation']) {
    const val = o[k];
    if (val !== undefined && val !== null && val !== false && val !== 0 && !(Array.isArray(val) && val.length === 0)) {
      throw new CniError(Code.UnsupportedField, `unsupported field: ${k}`, `hostplane does not implement the bridge plugin's "${k}"`);
    }
  }
  const isDefaultGateway = optBool(o, 'isDefaultGateway', false);
  const logLevel = optString(o, 'logLevel') ?? 'info';
  if (!(LEVEL_NAMES as string[]).includes(logLevel)) throw invalid('logLevel', `must be one of ${LEVEL_NAMES.join(', ')}`);
  const conf: NetConf = {
    cniVersion: v,
    name,
    type,
    bridge,
    // A default gateway on the bridge needs the gateway address there.
    isGateway: optBool(o, 'isGateway', false) || isDefaultGateway,
    isDefaultGateway,
    forceAddress: optBool(o, 'forceAddress', false),
    ipMasq: optBool(o, 'ipMasq', false),
    mtu,
    hairpinMode: optBool(o, 'hairpinMode', true),
    promiscMode: optBool(o, 'promiscMode', false),
    logLevel: logLevel as LevelName,
    ips: [],
    raw: stdin,
  };
  // Read by the executable before anything else (cni/main.ts); checked here so a bad value is named.
  optString(o, 'agentSocket');
  const logFile = optString(o, 'logFile');
  if (logFile !== undefined) conf.logFile = logFile;
  if (isObj(o.dns)) conf.dns = o.dns as Dns;
  if (o.ipam !== undefined && o.ipam !== null) conf.ipam = parseIpam(o.ipam);
  if (o.prevResult !== undefined && o.prevResult !== null) conf.prevResult = parseResult(o.prevResult);
  readRuntimeConfig(o, conf);
  return conf;
}

function parseIpam(raw: unknown): IpamConf {
  if (!isObj(raw)) throw invalid('ipam', 'must be an object');
  const type = optString(raw, 'type', 'ipam.type');
  if (!type) throw invalid('ipam.type', 'is required');
  if (type !== 'hostplane') return { kind: 'delegate', type };
  let rangeSets: RangeSet[];
  if (raw.ranges !== undefined) {
    if (!Array.isArray(raw.ranges) || raw.ranges.length === 0) throw invalid('ipam.ranges', 'must be a non-empty list of range sets');
    rangeSets = raw.ranges.map((set, i) => {
      if (!Array.isArray(set) || set.length === 0) throw invalid(`ipam.ranges[${i}]`, 'must be a non-empty list of ranges');
      const rs = set.map((r, j) => parseRange(r, `ipam.ranges[${i}][${j}]`));
      if (rs.some((r) => r.subnet.ip.family !== rs[0]!.subnet.ip.family)) throw invalid(`ipam.ranges[${i}]`, 'mixes IPv4 and IPv6 ranges');
      return rs;
    });
  } else if (raw.subnet !== undefined) {
    rangeSets = [[parseRange(raw, 'ipam')]];
  } else {
    throw invalid('ipam', 'needs "ranges" or "subnet"');
  }
  const routes: IpamRoute[] = [];
  if (raw.routes !== undefined) {
    if (!Array.isArray(raw.routes)) throw invalid('ipam.routes', 'must be a list');
    raw.routes.forEach((r, i) => {
      if (!isObj(r) || typeof r.dst !== 'string' || !parseCidr(r.dst)) throw invalid(`ipam.routes[${i}].dst`, 'must be a CIDR');
      const route: IpamRoute = { dst: r.dst };
      if (r.gw !== undefined) {
        if (typeof r.gw !== 'string' || !parseIp(r.gw)) throw invalid(`ipam.routes[${i}].gw`, 'must be an IP address');
        route.gw = r.gw;
      }
      routes.push(route);
    });
  }
  const dataDir = optString(raw, 'dataDir', 'ipam.dataDir') ?? DEFAULT_DATA_DIR;
  if (!dataDir.startsWith('/')) throw invalid('ipam.dataDir', 'must be an absolute path');
  return { kind: 'builtin', type: 'hostplane', rangeSets, routes, dataDir };
}

function parseRange(r: unknown, where: string) {
  if (!isObj(r)) throw invalid(where, 'must be an object');
  const s = optString(r, 'subnet', `${where}.subnet`);
  const subnet = s ? parseCidr(s) : undefined;
  if (!subnet) throw invalid(`${where}.subnet`, `must be a CIDR (got ${JSON.stringify(r.subnet)})`);
  const ipField = (k: string): Ip | undefined => {
    const val = optString(r, k, `${where}.${k}`);
    if (val === undefined) return undefined;
    const ip = parseIp(val);
    if (!ip || ip.family !== subnet.ip.family) throw invalid(`${where}.${k}`, `must be an IPv${subnet.ip.family} address (got "${val}")`);
    return ip;
  };
  const opts: { start?: Ip; end?: Ip; gateway?: Ip } = {};
  const start = ipField('rangeStart'),
    end = ipField('rangeEnd'),
    gateway = ipField('gateway');
  if (start) opts.start = start;
  if (end) opts.end = end;
  if (gateway) opts.gateway = gateway;
  try {
    return makeRange(subnet, opts, where);
  } catch (e) {
    throw new CniError(Code.InvalidConfig, `invalid config: ${(e as Error).message}`);
  }
}

// Capabilities arrive in runtimeConfig (libcni) or args.cni (the conventions doc).
function readRuntimeConfig(o: Record<string, unknown>, conf: NetConf): void {
  const sources: [Record<string, unknown>, string][] = [];
  if (isObj(o.args) && isObj(o.args.cni)) sources.push([o.args.cni, 'args.cni']);
  if (isObj(o.runtimeConfig)) sources.push([o.runtimeConfig, 'runtimeConfig']);
  for (const [src, where] of sources) {
    if (src.mac !== undefined) {
      if (typeof src.mac !== 'string' || !isMac(src.mac)) throw invalid(`${where}.mac`, 'must be a MAC address like 0a:58:0a:00:00:05');
      if (Number.parseInt(src.mac.slice(0, 2), 16) & 1) throw invalid(`${where}.mac`, 'must be a unicast address');
      conf.mac = src.mac.toLowerCase();
    }
    if (src.ips !== undefined) {
      if (!Array.isArray(src.ips)) throw invalid(`${where}.ips`, 'must be a list of addresses');
      conf.ips = src.ips.map((s, i) => {
        const ip = typeof s === 'string' ? (parseCidr(s)?.ip ?? parseIp(s)) : undefined;
        if (!ip) throw invalid(`${where}.ips[${i}]`, `must be an IP address or CIDR (got ${JSON.stringify(s)})`);
        return ip;
      });
    }
  }
  const list = o['cni.dev/valid-attachments'] ?? o['cni.dev/attachments'];
  // Go's libcni marshals an empty list as null.
  if (list === null) conf.validAttachments = [];
  else if (list !== undefined) {
    if (!Array.isArray(list)) throw invalid('cni.dev/valid-attachments', 'must be a list');
    conf.validAttachments = list.map((a, i) => {
      if (!isObj(a) || typeof a.containerID !== 'string' || typeof a.ifname !== 'string') {
        throw invalid(`cni.dev/valid-attachments[${i}]`, 'needs string containerID and ifname');
      }
      return { containerID: a.containerID, ifname: a.ifname };
    });
  }
}
