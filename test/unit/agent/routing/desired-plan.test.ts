// The pure half of routing: Node objects → peers → desired state → changes.
import { describe, it, expect } from 'vitest';
import { parseNode, type NodeNet } from '../../../../agent/routing/peers.ts';
import { desiredState, vtepMac, type LocalAddr } from '../../../../agent/routing/desired.ts';
import { plan } from '../../../../agent/routing/plan.ts';
import type { Actual } from '../../../../agent/routing/dataplane.ts';
import { masqueradeScript } from '../../../../agent/routing/masquerade.ts';

const node = (name: string, podCIDRs: string[], addrs: string[]) => ({
  metadata: { name },
  spec: { podCIDRs },
  status: { addresses: addrs.map((address) => ({ type: 'InternalIP', address })) },
});
const net = (name: string, cidrs: string[], addrs: string[]): NodeNet => {
  const r = parseNode(node(name, cidrs, addrs));
  if (!('ok' in r)) throw new Error(r.skip);
  return r.ok;
};
const local: LocalAddr[] = [
  { dev: 'eth0', address: '10.0.1.11', prefixLen: 24, mtu: 1500 },
  { dev: 'eth0', address: 'fd10::b', prefixLen: 64, mtu: 1500 },
];
const self = net('a', ['10.244.1.0/24', 'fd00:1::/64'], ['10.0.1.11', 'fd10::b']);
const near = net('b', ['10.244.2.0/24', 'fd00:2::/64'], ['10.0.1.12', 'fd10::c']);
const far = net('c', ['10.244.3.0/24', 'fd00:3::/64'], ['10.0.2.13', 'fd20::d']);
const empty = (): Actual => ({ local, routes: [], foreign: new Set(), vxlan: [], fdb: [], neigh: [] });

describe('parseNode', () => {
  it('reads pod CIDRs and addresses per family, InternalIP before ExternalIP', () => {
    const r = parseNode({
      metadata: { name: 'x' },
      spec: { podCIDRs: ['10.244.9.0/24'] },
      status: {
        addresses: [
          { type: 'ExternalIP', address: '203.0.113.9' },
          { type: 'InternalIP', address: '10.0.0.9' },
        ],
      },
    });
    expect(r).toEqual({ ok: { name: 'x', families: { 4: { podCIDR: '10.244.9.0/24', address: '10.0.0.9' } } } });
  });
  it.each([
    [node('x', ['10.244.300.0/24'], ['10.0.0.1']), 'malformed podCIDR "10.244.300.0/24"'],
    [node('x', ['10.244.1.5/24'], ['10.0.0.1']), 'host bits set'],
    [node('x', ['10.244.1.0/24'], []), 'no InternalIP or ExternalIP'],
    [node('x', [], ['10.0.0.1']), 'no spec.podCIDRs'],
    [node('x', ['fd00::/64'], ['10.0.0.1']), 'no IPv6 node address'],
  ])('skips %j with a reason', (n, reason) => {
    const r = parseNode(n);
    expect('skip' in r && r.skip).toContain(reason);
  });
  it('keeps the usable family of a dual-stack node with one address family, saying what is missing', () => {
    const r = parseNode(node('x', ['10.244.1.0/24', 'fd00::/64'], ['10.0.0.1']));
    expect('ok' in r && r.partial).toContain('no IPv6 node address');
  });
});

describe('desiredState', () => {
  it('auto: host-gw to the peer on a connected subnet, vxlan to the other, per family', () => {
    const d = desiredState({ mode: 'auto', self, peers: [near, far], local, vni: 1, port: 8472 });
    expect(d.routes).toEqual([
      { family: 4, dst: '10.244.2.0/24', via: '10.0.1.12' },
      { family: 6, dst: 'fd00:2::/64', via: 'fd10::c' },
      { family: 4, dst: '10.244.3.0/24', via: '10.244.3.0', dev: 'hp-vx4', onlink: true },
      { family: 6, dst: 'fd00:3::/64', via: 'fd00:3::', dev: 'hp-vx6', onlink: true },
    ]);
    expect(d.vxlan.map((v) => [v.name, v.mtu, v.local, v.underlayDev, v.mac])).toEqual([
      ['hp-vx4', 1450, '10.0.1.11', 'eth0', vtepMac('a', 4)],
      ['hp-vx6', 1430, 'fd10::b', 'eth0', vtepMac('a', 6)],
    ]);
    expect(d.fdb).toContainEqual({ dev: 'hp-vx4', mac: vtepMac('c', 4), dst: '10.0.2.13' });
    expect(d.neigh).toContainEqual({ family: 6, dev: 'hp-vx6', ip: 'fd00:3::', mac: vtepMac('c', 6) });
  });
  it('host-gw: a peer off the L2 segment gets no route and a reason', () => {
    const d = desiredState({ mode: 'host-gw', self, peers: [near, far], local, vni: 1, port: 8472 });
    expect(d.routes.map((r) => r.dst)).toEqual(['10.244.2.0/24', 'fd00:2::/64']);
    expect(d.peers.find((p) => p.node === 'c')).toMatchObject({ backend: 'none', reason: expect.stringContaining("not on this node's L2 segment") });
    expect(d.vxlan).toEqual([]);
  });
  it('vxlan: every peer through the VXLAN device, even on the same L2', () => {
    const d = desiredState({ mode: 'vxlan', self, peers: [near], local, vni: 7, port: 4789 });
    expect(d.routes.every((r) => r.dev?.startsWith('hp-vx'))).toBe(true);
    expect(d.vxlan[0]).toMatchObject({ vni: 7, port: 4789 });
  });
  it("vxlan waits for this node's own Node (its address picks the underlay)", () => {
    const d = desiredState({ mode: 'vxlan', self: undefined, peers: [near], local, vni: 1, port: 8472 });
    expect(d.routes).toEqual([]);
    expect(d.peers[0]!.reason).toContain('own Node object');
  });
  it('off: nothing', () => {
    expect(desiredState({ mode: 'off', self, peers: [near, far], local, vni: 1, port: 8472 }).routes).toEqual([]);
  });
  it('VTEP MACs are stable, distinct per node and family, locally administered unicast', () => {
    expect(vtepMac('a', 4)).toBe(vtepMac('a', 4));
    expect(new Set([vtepMac('a', 4), vtepMac('a', 6), vtepMac('b', 4)]).size).toBe(3);
    expect(parseInt(vtepMac('a', 4).slice(0, 2), 16) & 0x03).toBe(0x02);
  });
});

describe('plan', () => {
  const want = () => desiredState({ mode: 'auto', self, peers: [near, far], local, vni: 1, port: 8472 });
  it('from nothing: devices, FDB, neighbours, then routes', () => {
    const ops = plan(want(), empty()).ops.map((o) => o.op);
    expect(ops.indexOf('vxlan-add')).toBeLessThan(ops.indexOf('fdb-replace'));
    expect(ops.indexOf('fdb-replace')).toBeLessThan(ops.indexOf('neigh-replace'));
    expect(ops.indexOf('neigh-replace')).toBeLessThan(ops.indexOf('route-replace'));
  });
  it('adopts an identical kernel state: no change at all (restart, relist)', () => {
    const d = want();
    const actual: Actual = { ...empty(), routes: d.routes, vxlan: d.vxlan.map((v) => ({ ...v, up: true })), fdb: d.fdb, neigh: d.neigh };
    expect(plan(d, actual).ops).toEqual([]);
  });
  it("removes a deleted peer's route, neighbour and FDB entry (routes first), and the device when unused", () => {
    const d = want();
    const actual: Actual = { ...empty(), routes: d.routes, vxlan: d.vxlan.map((v) => ({ ...v, up: true })), fdb: d.fdb, neigh: d.neigh };
    const ops = plan(desiredState({ mode: 'auto', self, peers: [near], local, vni: 1, port: 8472 }), actual).ops;
    expect(ops.map((o) => o.op)).toEqual(['route-del', 'route-del', 'link-del', 'link-del']);
  });
  it('changes only what differs: a peer that moved gets one route replaced', () => {
    const d = want();
    const actual: Actual = { ...empty(), routes: d.routes, vxlan: d.vxlan.map((v) => ({ ...v, up: true })), fdb: d.fdb, neigh: d.neigh };
    const moved = net('b', ['10.244.2.0/24', 'fd00:2::/64'], ['10.0.1.99', 'fd10::c']);
    const ops = plan(desiredState({ mode: 'auto', self, peers: [moved, far], local, vni: 1, port: 8472 }), actual).ops;
    expect(ops).toEqual([{ op: 'route-replace', route: { family: 4, dst: '10.244.2.0/24', via: '10.0.1.99' } }]);
  });
  it('leaves a route it does not own alone and reports the conflict', () => {
    const p = plan(want(), { ...empty(), foreign: new Set(['10.244.2.0/24']) });
    expect(p.conflicts.map((c) => c.dst)).toEqual(['10.244.2.0/24']);
    expect(p.ops.some((o) => o.op === 'route-replace' && o.route.dst === '10.244.2.0/24')).toBe(false);
  });
  it('recreates a VXLAN device whose VNI changed', () => {
    const d = want();
    const actual: Actual = { ...empty(), vxlan: d.vxlan.map((v) => ({ ...v, vni: 9, up: true })) };
    expect(
      plan(d, actual)
        .ops.slice(0, 3)
        .map((o) => o.op),
    ).toEqual(['link-del', 'vxlan-add', 'vxlan-set']);
  });
});

describe('masqueradeScript', () => {
  it('masquerades pod traffic to anything but pod CIDRs, node addresses and cluster CIDRs, per family', () => {
    const s = masqueradeScript({ enabled: true, nodes: [self, near], clusterCIDRs: ['10.96.0.0/12'] });
    expect(s).toContain('add table inet hostplane_routing\ndelete table inet hostplane_routing\n');
    expect(s).toContain('set pods4 { type ipv4_addr; flags interval; auto-merge; elements = { 10.244.1.0/24, 10.244.2.0/24 }; }');
    expect(s).toContain(
      'set cluster4 { type ipv4_addr; flags interval; auto-merge; elements = { 10.0.1.11, 10.0.1.12, 10.244.1.0/24, 10.244.2.0/24, 10.96.0.0/12 }; }',
    );
    expect(s).toContain('ip saddr @pods4 ip daddr != @cluster4 masquerade');
    expect(s).toContain('ip6 saddr @pods6 ip6 daddr != @cluster6 masquerade');
  });
  it('disabled: only removes the table', () => {
    expect(masqueradeScript({ enabled: false, nodes: [self], clusterCIDRs: [] })).toBe(
      'add table inet hostplane_routing\ndelete table inet hostplane_routing\n',
    );
  });
});
