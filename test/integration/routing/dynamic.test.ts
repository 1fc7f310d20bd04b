// The Node set changing under running agents: a node that appears is
// reachable within 1 s, a deleted one's routes are gone within 1 s, a lost
// watch (dropped stream, or 410 Gone and a relist) changes nothing, bad Node
// objects are skipped with one log line, and the agent shows its peer table.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestBed, ensureBuilt, output, sh, ROOT, type BedNode, type Pod } from './testbed.ts';

const NODE = join(ROOT, 'node_modules', '.bin', 'node');

describe('routing follows the Node watch', () => {
  let bed: TestBed;
  let n1: BedNode, n2: BedNode, n3: BedNode;
  let p1: Pod, p3: Pod;

  beforeAll(async () => {
    ensureBuilt();
    bed = new TestBed();
    await bed.start();
    n1 = bed.addNode(1, 'A');
    n2 = bed.addNode(2, 'A');
    n3 = bed.addNode(3, 'B');
    p1 = bed.addPod(n1);
    bed.addPod(n2);
    p3 = bed.addPod(n3);
    for (const n of [n1, n2, n3]) await bed.publish(n);
    for (const n of [n1, n2, n3]) bed.startAgent(n);
    for (const n of [n1, n2, n3]) await bed.until(() => bed.routes(n).length === 4, 20_000, `routes on ${n.name}`);
  }, 60_000);

  afterAll(async () => {
    await bed?.cleanup();
  });

  /** GET a path of the agent's HTTP server inside the node's namespace. */
  async function agentGet(node: BedNode, path: string): Promise<string> {
    const p = spawn(
      'ip',
      ['netns', 'exec', node.ns, NODE, '-e', `fetch('http://127.0.0.1:9810${path}').then(async (r) => process.stdout.write(await r.text()))`],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const r = await output(p);
    if (r.code !== 0) throw new Error(r.stderr);
    return r.stdout;
  }

  /** `ip -ts monitor route` in a node: our route events with the kernel's timestamps (wall clock, ms). */
  function routeMonitor(node: BedNode): { stop(): { at: number; line: string }[] } {
    const p = bed.spawnIn(node.ns, 'ip', ['-ts', 'monitor', 'route']); // tracked: killed by cleanup() whatever happens
    let text = '';
    p.stdout!.on('data', (d) => (text += d));
    return {
      stop() {
        p.kill('SIGKILL');
        return text.split('\n').flatMap((l) => {
          const m = /^\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})\d*\] (.*)$/.exec(l);
          return m && m[2]!.includes('proto 168') ? [{ at: new Date(m[1]!).getTime(), line: m[2]! }] : [];
        });
      },
    };
  }

  it('a node added later is routed on every node within 1 s of its Node object appearing, and reachable; deleted, its routes are gone within 1 s', async () => {
    const n4 = bed.addNode(4, 'B');
    try {
      await addedLater(n4);
    } finally {
      // Whatever failed above, the next tests see the three-node cluster again.
      await bed.unpublish(n4.name);
      await bed.killAgent(n4);
    }
  });

  async function addedLater(n4: BedNode): Promise<void> {
    const p4 = bed.addPod(n4);
    bed.startAgent(n4);
    // n4's agent has listed the other nodes (host-gw to n3 needs nothing of its own Node).
    await bed.until(() => bed.routes(n4).length >= 2, 20_000, 'n4 agent up');
    const mons = [n1, n2, n3, n4].map(routeMonitor);
    // Ping until the first reply (each try waits 200 ms at most; a missing route fails at once, then 50 ms pause):
    // vxlan (n1 → n4, both families) and host-gw (n3 → n4).
    const pinger = (from: Pod, to: string) =>
      bed.spawnIn(from.ns, 'timeout', ['10', 'sh', '-c', `until ping -c1 -W0.2 -n -q ${to} >/dev/null 2>&1; do sleep 0.05; done`]);
    const pings = [pinger(p1, p4.v4), pinger(p1, p4.v6), pinger(p3, p4.v4), pinger(p3, p4.v6)];
    const done = pings.map((p) => new Promise<{ code: number | null; at: number }>((resolve) => p.once('exit', (code) => resolve({ code, at: Date.now() }))));
    await new Promise((r) => setTimeout(r, 500)); // monitors and pingers running (pings failing: no route yet)
    const t0 = Date.now();
    await bed.publish(n4);
    const has4 = (n: BedNode) => bed.routes(n).some((r) => r.startsWith('10.240.4.0/24')) && bed.routes(n).some((r) => r.startsWith('fd00:240:4::/64'));
    await bed.until(() => [n1, n2, n3].every(has4) && bed.routes(n4).length === 6, 10_000, 'n4 routed everywhere', 10);
    const results = await Promise.all(done);
    expect(results.map((r) => r.code)).toEqual([0, 0, 0, 0]);
    await new Promise((r) => setTimeout(r, 200));
    const added = mons.map(
      (m) =>
        Math.max(
          ...m
            .stop()
            .filter((e) => !e.line.startsWith('Deleted'))
            .map((e) => e.at),
        ) - t0,
    );
    const reach = results.map((r) => r.at - t0);
    console.log(
      `node added → last route in place (ms, kernel timestamps): n1 ${added[0]}, n2 ${added[1]}, n3 ${added[2]}, n4 ${added[3]}; ` +
        `first ping reply (ms, incl. ping retry granularity): n1→n4 v4 ${reach[0]}, v6 ${reach[1]}; n3→n4 v4 ${reach[2]}, v6 ${reach[3]}`,
    );
    for (const a of added) expect(a).toBeLessThan(1000);

    const dmons = [n1, n2, n3].map(routeMonitor);
    await new Promise((r) => setTimeout(r, 300));
    const t1 = Date.now();
    await bed.unpublish(n4.name);
    await Promise.all(
      [n1, n2, n3].map((n) =>
        bed.until(() => !bed.routes(n).some((r) => r.startsWith('10.240.4.') || r.startsWith('fd00:240:4:')), 10_000, `n4 routes gone on ${n.name}`, 10),
      ),
    );
    await new Promise((r) => setTimeout(r, 200));
    const removed = dmons.map(
      (m) =>
        Math.max(
          ...m
            .stop()
            .filter((e) => e.line.startsWith('Deleted'))
            .map((e) => e.at),
        ) - t1,
    );
    console.log(`node deleted → last route gone (ms, kernel timestamps): n1 ${removed[0]}, n2 ${removed[1]}, n3 ${removed[2]}`);
    for (const r of removed) expect(r).toBeLessThan(1000);
    // Its VXLAN FDB entry and neighbour went with it.
    expect(bed.datapath(n1)).not.toContain(n4.v4);
  }

  it('a dropped watch and a 410 relist change nothing in the datapath', async () => {
    const before = [n1, n2, n3].map((n) => bed.datapath(n));
    const mon = bed.spawnIn(n1.ns, 'ip', ['monitor', 'route', 'neigh', 'link']);
    let events = '';
    mon.stdout!.on('data', (d) => (events += d));
    await new Promise((r) => setTimeout(r, 300));
    await bed.dropWatches(); // resume from the last resourceVersion
    await new Promise((r) => setTimeout(r, 2500));
    await bed.compact();
    await bed.dropWatches(); // resume → 410 Gone → relist
    // Wait for the relist itself (the log says so), not a time: a loaded machine is slow.
    await bed.until(() => readFileSync(n1.agentLog, 'utf8').split('"nodes listed"').length >= 3, 20_000, 'relist after 410');
    await new Promise((r) => setTimeout(r, 500)); // and any datapath change it would have caused
    mon.kill('SIGKILL');
    expect([n1, n2, n3].map((n) => bed.datapath(n))).toEqual(before);
    // Kernel-made entries (IPv6 link-local routes after DAD) are not ours.
    expect(events.split('\n').filter((l) => !l.includes('proto kernel') && /proto 168|hp-vx|PERMANENT/.test(l))).toEqual([]);
    const log = readFileSync(n1.agentLog, 'utf8');
    expect(log.split('"nodes listed"').length).toBeGreaterThanOrEqual(3); // first list + the relist after 410
    // And the watch still drives changes after all that.
    await bed.publish(n2, { spec: { podCIDR: '10.240.22.0/24', podCIDRs: ['10.240.22.0/24', n2.podCIDR6] } });
    await bed.until(() => bed.routes(n1).some((r) => r.startsWith('10.240.22.0/24')), 3000, 'updated podCIDR routed');
    expect(bed.routes(n1).some((r) => r.startsWith('10.240.2.0/24'))).toBe(false);
    await bed.publish(n2);
    await bed.until(() => bed.routes(n1).some((r) => r.startsWith('10.240.2.0/24')), 3000, 'podCIDR back');
  });

  it('skips a Node with a malformed podCIDR or no address with one log line each, and keeps running', async () => {
    await bed.publishRaw({
      metadata: { name: 'bad-cidr' },
      spec: { podCIDRs: ['10.240.300.0/24'] },
      status: { addresses: [{ type: 'InternalIP', address: '10.99.1.77' }] },
    });
    await bed.publishRaw({
      metadata: { name: 'no-address' },
      spec: { podCIDRs: ['10.240.77.0/24'] },
      status: { addresses: [{ type: 'Hostname', address: 'x' }] },
    });
    await bed.publishRaw({
      metadata: { name: 'bad-cidr' },
      spec: { podCIDRs: ['10.240.300.0/24'] },
      status: { addresses: [{ type: 'InternalIP', address: '10.99.1.78' }] },
    });
    await bed.until(() => (readFileSync(n1.agentLog, 'utf8').match(/skipping Node/g) ?? []).length >= 2, 3000, 'skip lines');
    await bed.publish(n3); // another reconcile after the bad ones
    await new Promise((r) => setTimeout(r, 500));
    const lines = readFileSync(n1.agentLog, 'utf8')
      .split('\n')
      .filter((l) => l.includes('skipping Node'));
    expect(lines).toHaveLength(2);
    expect(lines.find((l) => l.includes('bad-cidr'))).toContain('malformed podCIDR \\"10.240.300.0/24\\"');
    expect(lines.find((l) => l.includes('no-address'))).toContain('no InternalIP or ExternalIP');
    expect(n1.agent?.exitCode).toBe(null);
    expect(bed.routes(n1)).toHaveLength(4);
    const table = JSON.parse(await agentGet(n1, '/debug/peers')) as { skipped: { node: string }[] };
    expect(table.skipped.map((s) => s.node).sort()).toEqual(['bad-cidr', 'no-address']);
    await bed.unpublish('bad-cidr');
    await bed.unpublish('no-address');
  });

  it('shows the peer table at /debug/peers and routing metrics at /metrics', async () => {
    const table = JSON.parse(await agentGet(n1, '/debug/peers')) as {
      node: string;
      mode: string;
      synced: boolean;
      lastSuccess: string;
      peers: { node: string; family: number; backend: string; address: string }[];
    };
    expect(table).toMatchObject({ node: 'node1', mode: 'auto', synced: true });
    expect(Date.parse(table.lastSuccess)).toBeGreaterThan(Date.now() - 60_000);
    expect(table.peers.map((p) => `${p.node}/${p.family}/${p.backend}`).sort()).toEqual([
      'node2/4/host-gw',
      'node2/6/host-gw',
      'node3/4/vxlan',
      'node3/6/vxlan',
    ]);
    const metrics = await agentGet(n1, '/metrics');
    expect(metrics).toContain('hostplane_routing_peers{backend="host-gw",family="4"} 1');
    expect(metrics).toContain('hostplane_routing_peers{backend="vxlan",family="6"} 1');
    expect(metrics).toMatch(/hostplane_routing_reconcile_duration_seconds_count \d+/);
    expect(metrics).toMatch(/hostplane_routing_last_success_timestamp_seconds \d/);
    expect(metrics).toContain('hostplane_routing_reconcile_errors_total 0');
  });

  it("never touches a route it does not own: a foreign route to a peer's pod CIDR is left alone and reported", async () => {
    // Someone else's route to node2's IPv6 pod CIDR, put there while the agent is down.
    await bed.killAgent(n1);
    sh('ip', ['-n', n1.ns, '-6', 'route', 'del', n2.podCIDR6, 'proto', '168']);
    expect(sh('ip', ['-n', n1.ns, '-6', 'route', 'add', n2.podCIDR6, 'via', n2.v6, 'proto', 'static']).code).toBe(0);
    bed.startAgent(n1);
    await bed.until(() => readFileSync(n1.agentLog, 'utf8').split('agent started').length > 2, 15_000, 'agent restart');
    await new Promise((r) => setTimeout(r, 1000));
    expect(sh('ip', ['-n', n1.ns, '-6', 'route', 'show', n2.podCIDR6]).stdout).toContain('proto static');
    const table = JSON.parse(await agentGet(n1, '/debug/peers')) as { peers: { node: string; family: number; backend: string; reason?: string }[] };
    expect(table.peers.find((p) => p.node === 'node2' && p.family === 6)?.reason).toContain('hostplane did not make');
    sh('ip', ['-n', n1.ns, '-6', 'route', 'del', n2.podCIDR6, 'proto', 'static']);
  });
});
