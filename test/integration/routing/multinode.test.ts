// Pod networking across nodes, on the real kernel: three nodes (network
// namespaces) with their own agents, host-gw between the two on underlay
// subnet A, VXLAN to the one behind the router on subnet B, IPv4 and IPv6.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { TestBed, ensureBuilt, output, withTimeout, sh, AGENT, OUTSIDE, type BedNode, type Pod } from './testbed.ts';

const until = (bed: TestBed, cond: () => boolean, ms: number, what: string) => bed.until(cond, ms, what);

describe('routing between node namespaces (auto: host-gw on one L2, vxlan across the router)', () => {
  let bed: TestBed;
  let n1: BedNode, n2: BedNode, n3: BedNode;
  const pods: Pod[] = [];

  beforeAll(async () => {
    ensureBuilt();
    bed = new TestBed();
    await bed.start();
    n1 = bed.addNode(1, 'A');
    n2 = bed.addNode(2, 'A');
    n3 = bed.addNode(3, 'B');
    pods.push(bed.addPod(n1), bed.addPod(n1), bed.addPod(n2), bed.addPod(n3));
    for (const n of [n1, n2, n3]) await bed.publish(n);
    for (const n of [n1, n2, n3]) bed.startAgent(n);
    // Each node routes to two peers, both families.
    for (const n of [n1, n2, n3]) await until(bed, () => bed.routes(n).length === 4, 20_000, `routes on ${n.name}`);
  }, 60_000);

  afterAll(async () => {
    await bed?.cleanup();
  });

  it('picks host-gw for the peer on the same L2 and vxlan for the one behind the router, per family', () => {
    const r1 = bed.routes(n1).join('\n');
    expect(r1).toContain(`10.240.2.0/24 via ${n2.v4} dev eth0`);
    expect(r1).toContain(`fd00:240:2::/64 via ${n2.v6} dev eth0`);
    expect(r1).toMatch(/10\.240\.3\.0\/24 via 10\.240\.3\.0 dev hp-vx4 .*onlink/);
    expect(r1).toMatch(/fd00:240:3::\/64 via fd00:240:3:: dev hp-vx6 .*onlink/);
    const r3 = bed.routes(n3).join('\n');
    expect(r3).toMatch(/10\.240\.1\.0\/24 via 10\.240\.1\.0 dev hp-vx4/);
    expect(r3).toMatch(/10\.240\.2\.0\/24 via 10\.240\.2\.0 dev hp-vx4/);
  });

  it("lowers the VXLAN devices' MTU by the encapsulation overhead", () => {
    const dp = bed.datapath(n1);
    expect(dp).toMatch(/hp-vx4: .*mtu 1450/);
    expect(dp).toMatch(/hp-vx6: .*mtu 1430/);
  });

  it('every pod pings every pod on every node, IPv4 and IPv6', () => {
    const failed: string[] = [];
    for (const from of pods) {
      for (const to of pods) {
        if (to === from) continue;
        for (const addr of [to.v4, to.v6]) if (!bed.ping(from, addr)) failed.push(`${from.ns} → ${addr}`);
      }
    }
    expect(failed).toEqual([]);
  });

  it("keeps a pod's source address across nodes (host-gw and vxlan), to pods and to nodes", async () => {
    const [p1, , p2, p3] = pods as [Pod, Pod, Pod, Pod];
    await bed.server(p2.ns, 7001);
    await bed.server(p3.ns, 7001);
    await bed.server(n3.ns, 7002);
    await bed.server(n2.ns, 7002);
    expect(await bed.whoami(p1.ns, p2.v4, 7001)).toBe(p1.v4);
    expect(await bed.whoami(p1.ns, p2.v6, 7001)).toBe(p1.v6);
    expect(await bed.whoami(p1.ns, p3.v4, 7001)).toBe(p1.v4);
    expect(await bed.whoami(p1.ns, p3.v6, 7001)).toBe(p1.v6);
    // pod → another node's own address
    expect(await bed.whoami(p1.ns, n2.v4, 7002)).toBe(p1.v4);
    expect(await bed.whoami(p1.ns, n3.v4, 7002)).toBe(p1.v4);
  });

  it('masquerades what leaves the cluster (the outside host sees the node address)', async () => {
    await bed.server(bed.ext, 7003);
    expect(await bed.whoami(pods[0]!.ns, OUTSIDE, 7003)).toBe(n1.v4);
  });

  it('restarting an agent (SIGKILL) drops no established connection and changes nothing in the datapath', async () => {
    const [p1, , p2, p3] = pods as [Pod, Pod, Pod, Pod];
    await bed.server(p2.ns, 7004);
    await bed.server(p3.ns, 7004);
    const before = bed.datapath(n1);
    // Two long-lived connections through the restart: host-gw (p1 → p2) and VXLAN over IPv6 (p1 → p3).
    const hold2 = bed.probe(p1.ns, ['hold', p2.v4, '7004']);
    const hold3 = bed.probe(p1.ns, ['hold', p3.v6, '7004']);
    const held = Promise.all([output(hold2, 60_000), output(hold3, 60_000)]);
    const connected = (p: typeof hold2) =>
      new Promise<void>((resolve) =>
        p.stdout!.on('data', (d: Buffer) => {
          if (String(d).includes('connected')) resolve();
        }),
      );
    await withTimeout(Promise.all([connected(hold2), connected(hold3)]), 30_000, 'probe connections');
    const mon = bed.spawnIn(n1.ns, 'ip', ['monitor', 'route', 'neigh', 'link']);
    let events = '';
    mon.stdout!.on('data', (d) => (events += d));
    await new Promise((r) => setTimeout(r, 500));
    await bed.killAgent(n1);
    bed.startAgent(n1);
    // The new agent is up when it has read the Nodes and reconciled: its log says so.
    await until(bed, () => readFileSync(n1.agentLog, 'utf8').split('agent started').length > 2, 15_000, 'agent restart');
    await new Promise((r) => setTimeout(r, 1500));
    mon.kill('SIGKILL');
    hold2.kill('SIGTERM');
    hold3.kill('SIGTERM');
    const [r2, r3] = await held;
    expect(r2.code, r2.stdout + r2.stderr).toBe(0);
    expect(r3.code, r3.stdout + r3.stderr).toBe(0);
    expect(bed.datapath(n1)).toBe(before);
    // Only neighbour-cache churn of the underlay (ARP/ND on eth0/hp0) may show; nothing of ours.
    // (IPv6 link-local routes the kernel adds on a device after DAD are not ours.)
    const ours = events.split('\n').filter((l) => !l.includes('proto kernel') && /proto 168|hp-vx|PERMANENT/.test(l));
    expect(ours).toEqual([]);
  });

  it('--uninstall-routing removes routes, VXLAN devices and the masquerade table, and nothing else', async () => {
    await bed.killAgent(n2);
    const foreign = sh('ip', ['-n', n2.ns, 'route', 'show'])
      .stdout.split('\n')
      .filter((l) => l && !l.includes('proto 168'));
    expect(bed.routes(n2)).toHaveLength(4);
    expect(sh('ip', ['netns', 'exec', n2.ns, 'nft', 'list', 'table', 'inet', 'hostplane_routing']).code).toBe(0);
    const r = sh('ip', ['netns', 'exec', n2.ns, AGENT, 'agent', '--uninstall-routing']);
    expect(r.code, r.stderr).toBe(0);
    expect(bed.routes(n2)).toEqual([]);
    expect(sh('ip', ['-n', n2.ns, 'link', 'show', 'type', 'vxlan']).stdout.trim()).toBe('');
    expect(sh('ip', ['netns', 'exec', n2.ns, 'nft', 'list', 'table', 'inet', 'hostplane_routing']).code).not.toBe(0);
    expect(
      sh('ip', ['-n', n2.ns, 'route', 'show'])
        .stdout.split('\n')
        .filter((l) => l && !l.includes('proto 168')),
    ).toEqual(foreign);
    // Twice is fine.
    expect(sh('ip', ['netns', 'exec', n2.ns, AGENT, 'agent', '--uninstall-routing']).code).toBe(0);
  });
});
