// Routing numbers (npm run bench routing):
//  1. Convergence: Node event → datapath updated, for 100 simulated nodes, each
//     added then deleted one at a time (n=100 each), host-gw and vxlan. The
//     agent's own code path in-process (NodeInformer over HTTPS to the fake API
//     server, RoutingReconciler, RealDataplane into a throwaway namespace);
//     "routes in" = the ip/bridge batches of the run that saw the event
//     returned; "all" = the masquerade table (nft, run alongside) too. Plus one burst: all 100 at once → all routes in place.
//  2. TCP throughput (iperf3, 2 s per run, rounds interleaved): pod→pod on one
//     node, pod→pod across nodes with host-gw, pod→pod across nodes with VXLAN,
//     each as a ratio to node→node over the same underlay measured in the same
//     rounds.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startFakeApiServer, nodeObject } from '../support/fake-apiserver.ts';
import { NodeInformer } from '../../agent/kube/node-informer.ts';
import { RoutingReconciler, type RunResult } from '../../agent/routing/reconciler.ts';
import { RealDataplane } from '../../agent/routing/dataplane.ts';
import { RealExec } from '../../lib/exec.ts';
import { silentLogger } from '../../lib/logging.ts';
import type { RoutingMode } from '../../agent/routing/config.ts';
import { TestBed, ensureBuilt, output } from '../integration/routing/testbed.ts';
import { median, percentile, summary } from './stats.ts';

const N = 100;
const sh = (args: string[]) => {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
};

async function convergence(mode: RoutingMode): Promise<void> {
  const ns = `hb${randomBytes(3).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'hp-bench-routing-'));
  sh(['netns', 'add', ns]);
  let informer: NodeInformer | undefined;
  let rec: RoutingReconciler | undefined;
  const api = await startFakeApiServer({ dir });
  try {
    sh(['-n', ns, 'link', 'set', 'lo', 'up']);
    sh(['-n', ns, 'link', 'add', 'u0', 'type', 'veth', 'peer', 'name', 'u1']);
    sh(['-n', ns, 'addr', 'add', '10.77.0.1/16', 'dev', 'u0']);
    sh(['-n', ns, 'addr', 'add', 'fd77::1/64', 'dev', 'u0', 'nodad']);
    for (const d of ['u0', 'u1']) sh(['-n', ns, 'link', 'set', d, 'up']);
    api.upsert(nodeObject('self', ['10.240.0.0/24', 'fd00:240::/64'], ['10.77.0.1', 'fd77::1']));
    const peer = (i: number) => nodeObject(`peer-${i}`, [`10.240.${i}.0/24`, `fd00:240:${i.toString(16)}::/64`], [`10.77.1.${i}`, `fd77::1:${i.toString(16)}`]);

    informer = new NodeInformer({ kube: { apiServer: api.url, tokenFile: api.tokenFile, caFile: api.caFile }, log: silentLogger() });
    const runs: RunResult[] = [];
    let waiter: { pred: () => boolean; resolve: () => void } | undefined;
    rec = new RoutingReconciler({
      nodeName: 'self',
      nodes: informer,
      log: silentLogger(),
      dataplane: new RealDataplane(new RealExec(), `/run/netns/${ns}`),
      cfg: { mode, vxlan: { vni: 1, port: 8472 }, masquerade: true, clusterCIDRs: [], resyncSeconds: 3600 },
      onRun: (r) => {
        runs.push(r);
        if (waiter?.pred()) waiter.resolve();
      },
    });
    const routed = () => rec!.peerTable().peers.filter((p) => p.backend !== 'none').length;
    const until = (pred: () => boolean) =>
      new Promise<void>((resolve, reject) => {
        if (pred()) return resolve();
        const t = setTimeout(() => reject(new Error('no convergence in 10 s')), 10_000);
        waiter = {
          pred,
          resolve: () => {
            clearTimeout(t);
            waiter = undefined;
            resolve();
          },
        };
      });
    rec.start();
    await informer.start();
    await until(() => informer!.synced() && runs.length > 0);

    const add: number[] = [];
    const addRouted: number[] = [];
    const del: number[] = [];
    const delRouted: number[] = [];
    // Reference, interleaved with the samples: one bare `ip route replace` exec through the same
    // exec seam — the floor any event-driven agent that shells out to iproute2 pays per change.
    const ref: number[] = [];
    const exec = new RealExec();
    for (let i = 1; i <= N; i++) {
      const rv = api.upsert(peer(i));
      await until(() => routed() === 2 * i && runs.at(-1)!.errors.length === 0);
      add.push(runs.at(-1)!.at - api.sentAt.get(rv)!);
      addRouted.push(runs.at(-1)!.routedAt - api.sentAt.get(rv)!);
      const t = performance.now();
      await exec.run('ip', ['-n', ns, 'route', 'replace', '10.241.0.0/24', 'via', '10.77.0.2']);
      ref.push(performance.now() - t);
    }
    await exec.run('ip', ['-n', ns, 'route', 'del', '10.241.0.0/24']);
    for (let i = 1; i <= N; i++) {
      const rv = api.remove(`peer-${i}`);
      await until(() => routed() === 2 * (N - i));
      del.push(runs.at(-1)!.at - api.sentAt.get(rv)!);
      delRouted.push(runs.at(-1)!.routedAt - api.sentAt.get(rv)!);
    }
    const routes = spawnSync('ip', ['-n', ns, 'route', 'show', 'proto', '168'], { encoding: 'utf8' }).stdout.trim();
    if (routes) throw new Error(`routes left after deleting every peer: ${routes}`);
    const t0 = performance.now();
    for (let i = 1; i <= N; i++) api.upsert(peer(i));
    await until(() => routed() === 2 * N);
    const burst = performance.now() - t0;
    process.stdout.write(`${summary(`${mode}: one bare ip exec (reference)`, ref)}\n`);
    process.stdout.write(`${summary(`${mode}: Node added → routes in`, addRouted)}  = ${(median(addRouted) / median(ref)).toFixed(1)}× the reference\n`);
    process.stdout.write(`${summary(`${mode}: Node added → all (+ nft)`, add)}\n`);
    process.stdout.write(`${summary(`${mode}: Node deleted → routes out`, delRouted)}\n`);
    process.stdout.write(`${summary(`${mode}: Node deleted → all (+ nft)`, del)}\n`);
    process.stdout.write(`${`${mode}: ${N} Nodes at once → all routed`.padEnd(34)} ${burst.toFixed(0)} ms (${runs.length} reconcile runs in all)\n`);
  } finally {
    rec?.stop();
    await informer?.stop();
    await api.close();
    spawnSync('ip', ['netns', 'del', ns]);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function throughput(rounds: number): Promise<void> {
  ensureBuilt();
  const bed = new TestBed();
  try {
    await bed.start();
    const n1 = bed.addNode(1, 'A', 'auto');
    const n2 = bed.addNode(2, 'A', 'auto');
    // VXLAN pair on the same underlay; their pods use the VXLAN MTU, as an operator would configure.
    const n3 = bed.addNode(3, 'A', 'vxlan', 1450);
    const n4 = bed.addNode(4, 'A', 'vxlan', 1450);
    const [p1a, p1b, p2, p3, p4] = [bed.addPod(n1), bed.addPod(n1), bed.addPod(n2), bed.addPod(n3), bed.addPod(n4)];
    for (const n of [n1, n2, n3, n4]) await bed.publish(n);
    for (const n of [n1, n2, n3, n4]) bed.startAgent(n);
    for (const n of [n1, n2, n3, n4]) await bed.until(() => bed.routes(n).length === 6, 20_000, `routes on ${n.name}`);
    const servers = [n2.ns, p1b!.ns, p2!.ns, p4!.ns];
    for (const ns of servers) bed.spawnIn(ns, 'iperf3', ['-s', '-p', '5201']);
    await new Promise((r) => setTimeout(r, 500));
    const cases = [
      { name: 'node→node underlay (reference)', from: n1.ns, to: n2.v4 },
      { name: 'pod→pod same node', from: p1a!.ns, to: p1b!.v4 },
      { name: 'pod→pod host-gw', from: p1a!.ns, to: p2!.v4 },
      { name: 'pod→pod vxlan', from: p3!.ns, to: p4!.v4 },
    ];
    const gbps = new Map<string, number[]>(cases.map((c) => [c.name, []]));
    const ratios = new Map<string, number[]>(cases.map((c) => [c.name, []]));
    for (let r = 0; r < rounds; r++) {
      let ref = 0;
      for (const c of cases) {
        const out = await output(bed.spawnIn(c.from, 'iperf3', ['-c', c.to, '-p', '5201', '-t', '2', '-J']));
        const bps = (JSON.parse(out.stdout) as { end: { sum_received: { bits_per_second: number } } }).end.sum_received.bits_per_second;
        gbps.get(c.name)!.push(bps / 1e9);
        if (c === cases[0]) ref = bps;
        ratios.get(c.name)!.push(bps / ref);
      }
    }
    for (const c of cases) {
      const g = gbps.get(c.name)!;
      process.stdout.write(
        `${c.name.padEnd(34)} median ${median(g).toFixed(2)} Gbit/s  ratio to underlay ${median(ratios.get(c.name)!).toFixed(2)}  (min ${Math.min(...g).toFixed(2)}, max ${Math.max(...g).toFixed(2)}, n=${g.length})\n`,
      );
    }
  } finally {
    await bed.cleanup();
  }
}

const which = process.argv[2];
if (!which || which === 'convergence') {
  await convergence('auto');
  await convergence('vxlan');
}
if (!which || which === 'throughput') await throughput(Number(process.env.HOSTPLANE_BENCH_ROUNDS ?? 5));
process.stdout.write(`(p99 from n=${N} samples each; throughput: 2 s iperf3 runs, cases interleaved per round)\n`);
void percentile;
