// The reconciler's rules, against an in-memory kernel and Node watch.
import { describe, it, expect, afterEach } from 'vitest';
import { RoutingReconciler } from '../../../../agent/routing/reconciler.ts';
import { silentLogger } from '../../../../lib/logging.ts';
import { FakeDataplane } from '../../../support/fake-dataplane.ts';
import { FakeNodeSource } from '../../../support/fake-node-source.ts';

const node = (name: string, i: number) => ({
  metadata: { name },
  spec: { podCIDRs: [`10.244.${i}.0/24`] },
  status: { addresses: [{ type: 'InternalIP', address: `10.0.0.${i}` }] },
});
const local = [{ dev: 'eth0', address: '10.0.0.1', prefixLen: 24, mtu: 1500 }];
const cfg = { mode: 'auto' as const, vxlan: { vni: 1, port: 8472 }, masquerade: true, clusterCIDRs: [], resyncSeconds: 3600 };
let recs: RoutingReconciler[] = [];
afterEach(() => {
  for (const r of recs) r.stop();
  recs = [];
});

function setup(dp = new FakeDataplane(local), nodes = new FakeNodeSource()) {
  const rec = new RoutingReconciler({ nodeName: 'a', cfg, nodes, dataplane: dp, log: silentLogger() });
  recs.push(rec);
  return { rec, dp, nodes };
}

describe('RoutingReconciler', () => {
  it('does nothing before the first LIST is in: an empty cache is not "no nodes"', async () => {
    const { rec, dp, nodes } = setup();
    dp.state.routes.push({ family: 4, dst: '10.244.2.0/24', via: '10.0.0.2' }); // left by the previous agent
    rec.start();
    await rec.settled();
    expect(dp.ops).toEqual([]);
    expect(dp.reads).toBe(0);
    nodes.set(node('a', 1));
    nodes.set(node('b', 2));
    nodes.sync();
    await rec.settled();
    // Adopted: the route was already right, nothing was deleted and re-added.
    expect(dp.ops).toEqual([]);
  });

  it('adds a new peer and removes a deleted one', async () => {
    const { rec, dp, nodes } = setup();
    nodes.set(node('a', 1));
    nodes.sync();
    rec.start();
    nodes.set(node('b', 2));
    await rec.settled();
    expect(dp.state.routes).toEqual([{ family: 4, dst: '10.244.2.0/24', via: '10.0.0.2' }]);
    nodes.delete('b');
    await rec.settled();
    expect(dp.state.routes).toEqual([]);
    expect(rec.peerTable().peers).toEqual([]);
  });

  it('folds a burst of events into few runs and ends on the latest state', async () => {
    const { rec, dp, nodes } = setup();
    nodes.set(node('a', 1));
    nodes.sync();
    rec.start();
    for (let i = 2; i < 50; i++) nodes.set(node(`n${i}`, i));
    await rec.settled();
    expect(dp.state.routes).toHaveLength(48);
    expect(dp.ops.filter((o) => o.op === 'route-replace').length).toBe(48);
  });

  it('re-reads the kernel and retries after a failed change', async () => {
    const { rec, dp, nodes } = setup();
    nodes.set(node('a', 1));
    nodes.set(node('b', 2));
    dp.failNext = 'route replace 10.244.2.0/24 via 10.0.0.2 proto 168: boom';
    nodes.sync();
    rec.start();
    await rec.settled();
    expect(rec.peerTable().lastErrors).toEqual(['route replace 10.244.2.0/24 via 10.0.0.2 proto 168: boom']);
    await new Promise((r) => setTimeout(r, 1200));
    await rec.settled();
    expect(dp.state.routes).toHaveLength(1);
    expect(dp.reads).toBe(2);
    expect(rec.peerTable().lastErrors).toEqual([]);
  });

  it('writes the masquerade table only when it changes', async () => {
    const { rec, dp, nodes } = setup();
    nodes.set(node('a', 1));
    nodes.sync();
    rec.start();
    await rec.settled();
    nodes.set({ ...node('a', 1), metadata: { name: 'a', resourceVersion: '9' } } as never);
    await rec.settled();
    expect(dp.nftScripts).toHaveLength(1);
    nodes.set(node('b', 2));
    await rec.settled();
    expect(dp.nftScripts).toHaveLength(2);
    expect(dp.nftScripts[1]).toContain('10.244.2.0/24');
  });
});
