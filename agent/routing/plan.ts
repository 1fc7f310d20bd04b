// Desired vs actual → the changes, in an order that never leaves a route
// pointing at a missing neighbour or device: devices, FDB, neighbours, routes
// on the way up; routes, neighbours, FDB, devices on the way down. Equal
// entries produce nothing, so re-running on an unchanged Node set (a restart,
// a relist after a lost watch) changes nothing in the kernel.
import type { Actual, Op } from './dataplane.ts';
import type { Desired, RouteSpec, VxlanSpec } from './desired.ts';

export interface Plan {
  ops: Op[];
  /** Desired routes left out because a route to the same destination exists that is not ours. */
  conflicts: RouteSpec[];
}

const routeKey = (r: RouteSpec) => `${r.via}|${r.dev ?? ''}|${r.onlink ? 1 : 0}`;

function sameIdentity(a: VxlanSpec, b: { vni: number; port: number; local: string; underlayDev?: string }): boolean {
  return a.vni === b.vni && a.port === b.port && a.local === b.local && (b.underlayDev === undefined || b.underlayDev === a.underlayDev);
}

export function plan(desired: Desired, actual: Actual): Plan {
  const up: Op[] = [];
  const down: Op[] = [];
  const conflicts: RouteSpec[] = [];

  const haveLinks = new Map(actual.vxlan.map((v) => [v.name, v]));
  const wantLinks = new Set(desired.vxlan.map((v) => v.name));
  for (const v of desired.vxlan) {
    const have = haveLinks.get(v.name);
    if (!have) {
      up.push({ op: 'vxlan-add', spec: v }, { op: 'vxlan-set', spec: v });
    } else if (!sameIdentity(v, have)) {
      // VNI, port or local address changed (a config change): a VXLAN device cannot be changed in place.
      up.push({ op: 'link-del', name: v.name }, { op: 'vxlan-add', spec: v }, { op: 'vxlan-set', spec: v });
    } else if (have.mtu !== v.mtu || have.mac !== v.mac || !have.up) {
      up.push({ op: 'vxlan-set', spec: v });
    }
  }
  const recreated = new Set(up.filter((o) => o.op === 'link-del').map((o) => (o as { name: string }).name));

  const fdbKey = (f: { dev: string; mac: string; dst: string }) => `${f.dev}|${f.mac}|${f.dst}`;
  const haveFdb = new Set(actual.fdb.filter((f) => !recreated.has(f.dev)).map(fdbKey));
  const wantFdb = new Set(desired.fdb.map(fdbKey));
  for (const f of desired.fdb) if (!haveFdb.has(fdbKey(f))) up.push({ op: 'fdb-replace', fdb: f });

  const neighKey = (n: { dev: string; ip: string; mac: string }) => `${n.dev}|${n.ip}|${n.mac}`;
  const haveNeigh = new Set(actual.neigh.filter((n) => !recreated.has(n.dev)).map(neighKey));
  const wantNeighIp = new Set(desired.neigh.map((n) => `${n.dev}|${n.ip}`));
  for (const n of desired.neigh) if (!haveNeigh.has(neighKey(n))) up.push({ op: 'neigh-replace', neigh: n });

  const haveRoutes = new Map(actual.routes.filter((r) => !(r.dev && recreated.has(r.dev))).map((r) => [r.dst, r]));
  const wantRoutes = new Set<string>();
  for (const r of desired.routes) {
    wantRoutes.add(r.dst);
    const have = haveRoutes.get(r.dst);
    if (have && routeKey(have) === routeKey(r)) continue;
    if (!have && actual.foreign.has(r.dst)) {
      conflicts.push(r);
      continue;
    }
    up.push({ op: 'route-replace', route: r });
  }
  for (const r of actual.routes) if (!wantRoutes.has(r.dst)) down.push({ op: 'route-del', route: r });
  for (const n of actual.neigh) {
    if (!wantLinks.has(n.dev)) continue; // goes with its device
    if (!wantNeighIp.has(`${n.dev}|${n.ip}`)) down.push({ op: 'neigh-del', neigh: n });
  }
  for (const f of actual.fdb) {
    if (!wantLinks.has(f.dev)) continue;
    if (!wantFdb.has(fdbKey(f))) down.push({ op: 'fdb-del', fdb: f });
  }
  for (const v of actual.vxlan) if (!wantLinks.has(v.name)) down.push({ op: 'link-del', name: v.name });
  return { ops: [...up, ...down], conflicts };
}
