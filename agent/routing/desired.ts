// The datapath this node should have, computed from the Node set alone (a
// pure function: the reconciler diffs it against the kernel). Per peer and
// per family one backend:
//   host-gw  route PEER_PODCIDR via PEER_ADDRESS — the peer is on one of this
//            node's connected subnets, so the kernel resolves it by ARP/ND;
//   vxlan    route PEER_PODCIDR via PEER_GW dev hp-vxF onlink, a permanent
//            neighbour PEER_GW → PEER_VTEP_MAC and an FDB entry
//            PEER_VTEP_MAC → PEER_ADDRESS on the VXLAN device.
// VTEP MACs are derived from the node name, so every node computes every
// peer's MAC itself: nothing is written back to the API. PEER_GW is the
// peer's pod-CIDR network address, used only as a next-hop label.
import { createHash } from 'node:crypto';
import { parseCidr, parseIp, contains, type Family } from '../../cni/ipam/ip.ts';
import type { RoutingMode } from './config.ts';
import type { NodeNet } from './peers.ts';

/** Routes this agent owns carry this protocol number (rtnetlink `proto`); nothing else is touched. */
export const ROUTE_PROTOCOL = 168;
export const VXLAN_DEVICE: Record<Family, string> = { 4: 'hp-vx4', 6: 'hp-vx6' };
/** Outer IP + UDP + VXLAN + inner Ethernet. */
export const VXLAN_OVERHEAD: Record<Family, number> = { 4: 50, 6: 70 };

export type Backend = 'host-gw' | 'vxlan';

export interface LocalAddr {
  dev: string;
  address: string;
  prefixLen: number;
  mtu: number;
}

export interface RouteSpec {
  family: Family;
  dst: string;
  via: string;
  dev?: string;
  onlink?: boolean;
}
export interface VxlanSpec {
  family: Family;
  name: string;
  vni: number;
  port: number;
  local: string;
  underlayDev: string;
  mtu: number;
  mac: string;
}
export interface FdbSpec {
  dev: string;
  mac: string;
  dst: string;
}
export interface NeighSpec {
  family: Family;
  dev: string;
  ip: string;
  mac: string;
}

export interface PeerView {
  node: string;
  family: Family;
  podCIDR: string;
  address: string;
  backend: Backend | 'none';
  /** Why a peer has no backend. */
  reason?: string;
}

export interface Desired {
  routes: RouteSpec[];
  vxlan: VxlanSpec[];
  fdb: FdbSpec[];
  neigh: NeighSpec[];
  peers: PeerView[];
}

export interface DesiredInput {
  mode: RoutingMode;
  self: NodeNet | undefined;
  peers: NodeNet[];
  /** This node's addresses on its interfaces (without our own VXLAN devices). */
  local: LocalAddr[];
  vni: number;
  port: number;
}

export function vtepMac(node: string, family: Family): string {
  const h = createHash('sha256').update(`hostplane-vtep\0${family}\0${node}`).digest();
  const b = [...h.subarray(0, 6)];
  b[0] = (b[0]! & 0xfe) | 0x02; // locally administered, unicast
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}

/** The local interface whose connected subnet holds `address`, if any: same L2 segment. */
export function onLinkDev(local: readonly LocalAddr[], address: string): string | undefined {
  const ip = parseIp(address);
  if (!ip) return undefined;
  for (const a of local) {
    const net = parseCidr(`${a.address}/${a.prefixLen}`);
    if (net && net.ip.family === ip.family && net.prefix < (ip.family === 4 ? 32 : 128) && contains(net, ip)) return a.dev;
  }
  return undefined;
}

export function desiredState(input: DesiredInput): Desired {
  const out: Desired = { routes: [], vxlan: [], fdb: [], neigh: [], peers: [] };
  if (input.mode === 'off') return out;
  const vxlanOf = new Map<Family, VxlanSpec | string>();
  const vxlanFor = (family: Family): VxlanSpec | string => {
    const known = vxlanOf.get(family);
    if (known) return known;
    let v: VxlanSpec | string;
    const mine = input.self?.families[family];
    const underlay = mine && input.local.find((a) => a.address === mine.address);
    if (!input.self) v = "this node's own Node object is not known yet (VXLAN needs its address)";
    else if (!mine) v = `this node has no IPv${family} podCIDR and address`;
    else if (!underlay) v = `this node's address ${mine.address} is on none of its interfaces`;
    else {
      v = {
        family,
        name: VXLAN_DEVICE[family],
        vni: input.vni,
        port: input.port,
        local: mine.address,
        underlayDev: underlay.dev,
        mtu: underlay.mtu - VXLAN_OVERHEAD[family],
        mac: vtepMac(input.self.name, family),
      };
    }
    vxlanOf.set(family, v);
    return v;
  };
  // Code-unit order, not localeCompare: any stable order will do, and ICU costs ~7 MiB resident.
  for (const peer of [...input.peers].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    for (const family of [4, 6] as const) {
      const f = peer.families[family];
      if (!f) continue;
      const view: PeerView = { node: peer.name, family, podCIDR: f.podCIDR, address: f.address, backend: 'none' };
      out.peers.push(view);
      const mine = input.self?.families[family];
      if (mine && mine.podCIDR === f.podCIDR) {
        view.reason = `same podCIDR as this node (${f.podCIDR})`;
        continue;
      }
      const direct = onLinkDev(input.local, f.address);
      const backend: Backend | undefined = input.mode === 'vxlan' ? 'vxlan' : direct ? 'host-gw' : input.mode === 'auto' ? 'vxlan' : undefined;
      if (!backend) {
        view.reason = `${f.address} is not on this node's L2 segment (routing: host-gw; use auto or vxlan)`;
        continue;
      }
      if (backend === 'host-gw') {
        out.routes.push({ family, dst: f.podCIDR, via: f.address });
        view.backend = 'host-gw';
        continue;
      }
      const vx = vxlanFor(family);
      if (typeof vx === 'string') {
        view.reason = vx;
        continue;
      }
      const gw = f.podCIDR.split('/')[0]!;
      const mac = vtepMac(peer.name, family);
      out.fdb.push({ dev: vx.name, mac, dst: f.address });
      out.neigh.push({ family, dev: vx.name, ip: gw, mac });
      out.routes.push({ family, dst: f.podCIDR, via: gw, dev: vx.name, onlink: true });
      view.backend = 'vxlan';
    }
  }
  for (const v of vxlanOf.values()) if (typeof v !== 'string') out.vxlan.push(v);
  return out;
}
