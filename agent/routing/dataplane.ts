// The kernel side of routing: read what is there (only what carries our
// marks: routes with proto ROUTE_PROTOCOL, our VXLAN devices and the FDB and
// permanent neighbour entries on them) and apply a list of changes. `ip` and
// `bridge` run in batch mode with -force, so one bad line does not stop the
// rest; the lines that failed come back as errors and the reconciler retries.
import type { HostExec } from '../../lib/exec.ts';
import { inNs } from '../../cni/net/ip-link.ts';
import type { Family } from '../../cni/ipam/ip.ts';
import { ROUTE_PROTOCOL, VXLAN_DEVICE, type FdbSpec, type LocalAddr, type NeighSpec, type RouteSpec, type VxlanSpec } from './desired.ts';
import { familyOf } from '../../lib/ip-family.ts';

export interface ActualVxlan {
  family: Family;
  name: string;
  vni: number;
  port: number;
  local: string;
  underlayDev?: string;
  mtu: number;
  mac: string;
  up: boolean;
}

export interface Actual {
  local: LocalAddr[];
  routes: RouteSpec[];
  /** Destinations of routes in the main table that are not ours: never replaced. */
  foreign: Set<string>;
  vxlan: ActualVxlan[];
  fdb: FdbSpec[];
  neigh: NeighSpec[];
}

export type Op =
  | { op: 'vxlan-add'; spec: VxlanSpec }
  | { op: 'vxlan-set'; spec: VxlanSpec }
  | { op: 'link-del'; name: string }
  | { op: 'route-replace'; route: RouteSpec }
  | { op: 'route-del'; route: RouteSpec }
  | { op: 'fdb-replace'; fdb: FdbSpec }
  | { op: 'fdb-del'; fdb: FdbSpec }
  | { op: 'neigh-replace'; neigh: NeighSpec }
  | { op: 'neigh-del'; neigh: NeighSpec };

export interface Dataplane {
  read(): Promise<Actual>;
  /** Apply in order; returns one message per failed change (empty: all applied). */
  apply(ops: readonly Op[]): Promise<string[]>;
  /** Replace the masquerade table with this nft script (one transaction). */
  nft(script: string): Promise<void>;
}

interface IpAddrJson {
  ifname: string;
  mtu: number;
  addr_info?: { family: string; local: string; prefixlen: number; scope?: string }[];
}
interface IpRouteJson {
  dst: string;
  gateway?: string;
  dev?: string;
  protocol?: string;
  flags?: string[];
}
interface IpLinkJson {
  ifname: string;
  mtu: number;
  address: string;
  flags?: string[];
  link?: string;
  linkinfo?: { info_kind?: string; info_data?: { id?: number; local?: string; local6?: string; port?: number } };
}

const dstOf = (family: Family, dst: string): string => (dst.includes('/') ? dst : `${dst}/${family === 4 ? 32 : 128}`);

function renderIp(o: Op): string[] | undefined {
  const proto = ['proto', String(ROUTE_PROTOCOL)];
  switch (o.op) {
    case 'vxlan-add': {
      const s = o.spec;
      return [
        'link',
        'add',
        s.name,
        'address',
        s.mac,
        'mtu',
        String(s.mtu),
        'type',
        'vxlan',
        'id',
        String(s.vni),
        'local',
        s.local,
        'dstport',
        String(s.port),
        'dev',
        s.underlayDev,
        'nolearning',
      ];
    }
    case 'vxlan-set':
      return ['link', 'set', 'dev', o.spec.name, 'address', o.spec.mac, 'mtu', String(o.spec.mtu), 'up'];
    case 'link-del':
      return ['link', 'del', 'dev', o.name];
    case 'route-replace': {
      const r = o.route;
      return ['route', 'replace', r.dst, 'via', r.via, ...(r.dev ? ['dev', r.dev] : []), ...(r.onlink ? ['onlink'] : []), ...proto];
    }
    case 'route-del':
      return ['route', 'del', o.route.dst, ...proto];
    case 'neigh-replace':
      return ['neigh', 'replace', o.neigh.ip, 'lladdr', o.neigh.mac, 'dev', o.neigh.dev, 'nud', 'permanent'];
    case 'neigh-del':
      return ['neigh', 'del', o.neigh.ip, 'dev', o.neigh.dev];
    default:
      return undefined;
  }
}

function renderBridge(o: Op): string[] | undefined {
  if (o.op === 'fdb-replace') return ['fdb', 'replace', o.fdb.mac, 'dev', o.fdb.dev, 'dst', o.fdb.dst, 'self', 'permanent'];
  if (o.op === 'fdb-del') return ['fdb', 'del', o.fdb.mac, 'dev', o.fdb.dev, 'dst', o.fdb.dst, 'self'];
  return undefined;
}

function line(tokens: string[]): string {
  for (const t of tokens) if (t === '' || /[\s"'\\#]/.test(t)) throw new Error(`refusing token ${JSON.stringify(t)}`);
  return tokens.join(' ');
}

/** `ip -force -batch` reports "Command failed -:N" per bad line, after the kernel's own message. */
function failures(stderr: string, lines: string[]): string[] {
  const out: string[] = [];
  let pending: string[] = [];
  for (const l of stderr.split('\n')) {
    const m = /Command failed -:(\d+)/.exec(l);
    if (m) {
      out.push(`${lines[Number(m[1]) - 1] ?? '?'}: ${pending.join(' ').trim() || 'failed'}`);
      pending = [];
    } else if (l.trim()) pending.push(l.trim());
  }
  return out;
}

export class RealDataplane implements Dataplane {
  private readonly exec: HostExec;
  private readonly netns: string | undefined;
  /** `netns`: a /run/netns path to work in another namespace (tests, bench); the agent uses its own. */
  constructor(exec: HostExec, netns?: string) {
    this.exec = exec;
    this.netns = netns;
  }

  private async json<T>(tool: 'ip' | 'bridge', args: string[]): Promise<T> {
    const t = inNs(['-json', ...args], this.netns);
    const r = await this.exec.run(tool, t.args, { allowFail: true, ...(t.netns ? { netns: t.netns } : {}) });
    if (r.exitCode !== 0) {
      if (/does not exist|Cannot find device/.test(r.stderr)) return [] as T;
      throw new Error(`${tool} ${args.join(' ')}: ${r.stderr.trim()}`);
    }
    return (r.stdout.trim() ? JSON.parse(r.stdout) : []) as T;
  }

  async read(): Promise<Actual> {
    const [addrs, r4, r6, links] = await Promise.all([
      this.json<IpAddrJson[]>('ip', ['addr', 'show']),
      this.json<IpRouteJson[]>('ip', ['-4', 'route', 'show', 'table', 'main']),
      this.json<IpRouteJson[]>('ip', ['-6', 'route', 'show', 'table', 'main']),
      this.json<IpLinkJson[]>('ip', ['-d', 'link', 'show', 'type', 'vxlan']),
    ]);
    const ours = new Set<string>(Object.values(VXLAN_DEVICE));
    const local: LocalAddr[] = [];
    for (const a of addrs) {
      if (ours.has(a.ifname)) continue;
      for (const i of a.addr_info ?? []) {
        if (i.scope === 'host' || i.scope === 'link') continue;
        local.push({ dev: a.ifname, address: i.local, prefixLen: i.prefixlen, mtu: a.mtu });
      }
    }
    const routes: RouteSpec[] = [];
    const foreign = new Set<string>();
    for (const [family, all] of [
      [4, r4],
      [6, r6],
    ] as const) {
      const list = all.filter((r) => r.protocol === String(ROUTE_PROTOCOL));
      for (const r of all) if (r.protocol !== String(ROUTE_PROTOCOL) && r.dst !== 'default') foreign.add(dstOf(family, r.dst));
      for (const r of list) {
        if (!r.gateway) continue; // not a shape we create; still ours by proto, so the diff deletes it
        const onlink = r.flags?.includes('onlink') ?? false;
        routes.push({ family, dst: dstOf(family, r.dst), via: r.gateway, ...(ours.has(r.dev ?? '') ? { dev: r.dev, onlink } : {}) });
      }
      for (const r of list) if (!r.gateway) routes.push({ family, dst: dstOf(family, r.dst), via: '' });
    }
    const vxlan: ActualVxlan[] = [];
    const fdb: FdbSpec[] = [];
    const neigh: NeighSpec[] = [];
    for (const l of links) {
      const family = Object.entries(VXLAN_DEVICE).find(([, n]) => n === l.ifname)?.[0];
      if (!family) continue;
      const d = l.linkinfo?.info_data ?? {};
      vxlan.push({
        family: Number(family) as Family,
        name: l.ifname,
        vni: d.id ?? 0,
        port: d.port ?? 0,
        local: d.local ?? d.local6 ?? '',
        mtu: l.mtu,
        mac: l.address,
        up: l.flags?.includes('UP') ?? false,
        ...(l.link ? { underlayDev: l.link } : {}),
      });
      const [f, n] = await Promise.all([
        this.json<{ mac: string; dst?: string; state?: string }[]>('bridge', ['fdb', 'show', 'dev', l.ifname]),
        this.json<{ dst: string; lladdr?: string; state?: string[] }[]>('ip', ['neigh', 'show', 'dev', l.ifname]),
      ]);
      for (const e of f) if (e.dst && e.state === 'permanent') fdb.push({ dev: l.ifname, mac: e.mac, dst: e.dst });
      for (const e of n) {
        if (e.lladdr && e.state?.includes('PERMANENT')) neigh.push({ family: familyOf(e.dst), dev: l.ifname, ip: e.dst, mac: e.lladdr });
      }
    }
    return { local, routes, foreign, vxlan, fdb, neigh };
  }

  async apply(ops: readonly Op[]): Promise<string[]> {
    // One `ip` batch (it keeps the plan's order: devices, neighbours, routes up;
    // routes, neighbours, devices down) and one `bridge` batch for the FDB. They
    // run side by side (each exec costs milliseconds, more on a loaded node) unless
    // a VXLAN device is being created, whose FDB entries must wait for it.
    const ipLines = ops
      .map(renderIp)
      .filter((t): t is string[] => t !== undefined)
      .map(line);
    const brLines = ops
      .map(renderBridge)
      .filter((t): t is string[] => t !== undefined)
      .map(line);
    const ip = () => (ipLines.length ? this.batch('ip', ipLines) : Promise.resolve([]));
    const br = () => (brLines.length ? this.batch('bridge', brLines) : Promise.resolve([]));
    if (ops.some((o) => o.op === 'vxlan-add')) return [...(await ip()), ...(await br())];
    const [a, b] = await Promise.all([ip(), br()]);
    return [...a, ...b];
  }

  private async batch(tool: 'ip' | 'bridge', lines: string[]): Promise<string[]> {
    const t = inNs(['-force', '-batch', '-'], this.netns);
    const r = await this.exec.run(tool, t.args, { input: `${lines.join('\n')}\n`, allowFail: true, ...(t.netns ? { netns: t.netns } : {}) });
    if (r.exitCode === 0) return [];
    const all = failures(r.stderr, lines);
    if (all.length === 0) return [`${tool} -batch: ${r.stderr.trim() || `exit ${r.exitCode}`}`];
    // Deleting what is already gone is done, not failed.
    return all.filter((f) => !(/^(route|neigh|fdb|link) del /.test(f) && /No such|Cannot find|does not exist|not found/i.test(f)));
  }

  async nft(script: string): Promise<void> {
    await this.exec.run('nft', ['-f', '-'], { input: script, ...(this.netns ? { netns: this.netns } : {}) });
  }
}
