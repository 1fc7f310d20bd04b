// CSI benchmark (npm run bench; not a test). hostplane's driver (the BUILT
// dist/hostplane csi) and, in the same run, the reference csi-driver-host-path
// (`hostpathplugin`: $HOSTPATHPLUGIN, else /usr/local/bin/hostpathplugin; the
// module proxy refuses that module, so a developer builds it from a checkout
// beside the project), doing the same work over the same gRPC client:
//   - the lifecycle Create → Stage → Publish → Unpublish → Unstage → Delete of
//     a 1 GiB mount volume (ext4) and of a 1 GiB block volume;
//   - 20 concurrent CreateVolume calls (wall time of the batch);
//   - each driver's resident memory, idle after start and after the run
//     (VmRSS of the driver and of any helper process it started).
// The two drivers run side by side and take turns sample by sample (the
// order flips every round), so a burst of load on a shared machine hits both
// alike; the p99 comes from ITER (default 100) samples per kind.
// Run: node_modules/.bin/node test/bench/csi.ts [iterations]
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { csiClient, mountCap, blockCap, type CsiClient } from '../integration/csi/client.ts';
import { cleanupHost } from '../integration/csi/host.ts';
import { descendants, memoryOf } from '../support/procs.ts';
import { summary, median, percentile, nowMs } from './stats.ts';

const root = join(import.meta.dirname, '..', '..');
const OURS = join(root, 'dist', 'hostplane');
const REFERENCE = process.env.HOSTPATHPLUGIN ?? '/usr/local/bin/hostpathplugin';
const GiB = 1024 ** 3;
const ITER = Number(process.argv[2] ?? 100);
const WARMUP = 3;
const CONCURRENT = 20;
const IDLE_WAIT_MS = 35_000;
const CC_ROUNDS = Math.max(20, Math.round(ITER / 2));
const TARGET = { mount: 1.3, block: 1.0, creates: 1.0, rssIdleMiB: 60 };

interface Driver {
  name: string;
  proc: ChildProcess;
  client: CsiClient;
  stage: boolean;
  dir: string;
  mount: number[];
  block: number[];
  cc: number[];
  idle?: Memory;
  after?: Memory;
}

async function waitForSocket(path: string, proc: ChildProcess): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (existsSync(path)) return;
    if (proc.exitCode !== null) throw new Error(`driver exited ${proc.exitCode}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`socket ${path} never appeared`);
}

async function start(name: string, dir: string, cmd: string, args: string[]): Promise<Driver> {
  const sock = join(dir, 'csi.sock');
  const proc = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'ignore'] });
  await waitForSocket(sock, proc);
  const client = csiClient(sock);
  const caps = await client.node.NodeGetCapabilities({});
  const stage = caps.capabilities.some((c: { rpc?: { type: string } }) => c.rpc?.type === 'STAGE_UNSTAGE_VOLUME');
  return { name, proc, client, stage, dir, mount: [], block: [], cc: [] };
}

interface Memory {
  /** The driver process itself. */
  rss: number;
  /** The driver and every process it started (a helper counts against the driver's footprint). */
  tree: number;
  processes: number;
}

/** The driver's own pid: the launcher script execs node, so the spawned pid is the driver. */
function memory(d: Driver): Memory {
  const pid = d.proc.pid!;
  const kids = descendants(pid);
  const rss = memoryOf(pid).VmRSS ?? 0;
  return { rss, tree: rss + kids.reduce((s, k) => s + (memoryOf(k).VmRSS ?? 0), 0), processes: 1 + kids.length };
}

let seq = 0;
async function lifecycle(d: Driver, block: boolean): Promise<number> {
  const n = `bench-${block ? 'blk' : 'fs'}-${seq++}`;
  const cap = block ? blockCap() : mountCap('ext4');
  const staging = join(d.dir, 'staging', n);
  const target = join(d.dir, 'pods', n, 'vol');
  mkdirSync(staging, { recursive: true });
  // As kubelet does: the target's parent exists (the reference fails without
  // it), the target itself is the driver's to make.
  mkdirSync(dirname(target), { recursive: true });
  const t0 = nowMs();
  const { volume } = await d.client.controller.CreateVolume({ name: n, capacity_range: { required_bytes: GiB }, volume_capabilities: [cap] });
  const id = volume.volume_id;
  if (d.stage)
    await d.client.node.NodeStageVolume({ volume_id: id, staging_target_path: staging, volume_capability: cap, volume_context: volume.volume_context });
  await d.client.node.NodePublishVolume({
    volume_id: id,
    staging_target_path: d.stage ? staging : '',
    target_path: target,
    volume_capability: cap,
    volume_context: volume.volume_context,
  });
  await d.client.node.NodeUnpublishVolume({ volume_id: id, target_path: target });
  if (d.stage) await d.client.node.NodeUnstageVolume({ volume_id: id, staging_target_path: staging });
  await d.client.controller.DeleteVolume({ volume_id: id });
  const ms = nowMs() - t0;
  rmSync(staging, { recursive: true, force: true });
  rmSync(dirname(target), { recursive: true, force: true });
  return ms;
}

async function concurrentCreates(d: Driver): Promise<number> {
  const names = Array.from({ length: CONCURRENT }, (_, i) => `bench-cc-${seq}-${i}`);
  seq++;
  const t0 = nowMs();
  const rs = await Promise.all(
    names.map((name) => d.client.controller.CreateVolume({ name, capacity_range: { required_bytes: GiB }, volume_capabilities: [mountCap('ext4')] })),
  );
  const ms = nowMs() - t0;
  for (const r of rs) await d.client.controller.DeleteVolume({ volume_id: r.volume.volume_id });
  return ms;
}

async function stop(d: Driver): Promise<void> {
  d.client.close();
  const exited = new Promise((r) => d.proc.once('exit', r));
  d.proc.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
  if (d.proc.exitCode === null) d.proc.kill('SIGKILL');
}

/** Every driver does `step` once per round; who goes first alternates. */
async function interleaved(drivers: Driver[], rounds: number, step: (d: Driver) => Promise<void>): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    const order = i % 2 ? [...drivers].reverse() : drivers;
    for (const d of order) await step(d);
  }
}

async function main(): Promise<void> {
  if (!existsSync(OURS)) execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
  const base = mkdtempSync('/tmp/hp-csi-bench-');
  const drivers: Driver[] = [];
  try {
    const oursDir = join(base, 'ours');
    mkdirSync(oursDir);
    const ours = await start('hostplane', oursDir, OURS, [
      'csi',
      '--endpoint',
      `unix://${oursDir}/csi.sock`,
      '--node-id',
      'bench',
      '--data-dir',
      join(oursDir, 'data'),
      '--log-level',
      'warn',
    ]);
    drivers.push(ours);
    if (existsSync(REFERENCE)) {
      const refDir = join(base, 'ref');
      mkdirSync(refDir);
      drivers.push(
        await start('hostpathplugin', refDir, REFERENCE, [
          '--endpoint',
          `unix://${refDir}/csi.sock`,
          '--nodeid',
          'bench',
          '--drivername',
          'hostpath.csi.k8s.io',
          '--statedir',
          join(refDir, 'state'),
          '--v',
          '0',
        ]),
      );
    } else {
      process.stdout.write(`reference ${REFERENCE} not found (set HOSTPATHPLUGIN): hostplane's numbers only, no ratios\n`);
    }
    // Idle: started, answered one call, then left alone past the CSI
    // helper's idle stop (30 s, csi/volumes/helper-client.ts): what a node
    // holds between volume bursts. "After the run" is the busy figure.
    await new Promise((r) => setTimeout(r, IDLE_WAIT_MS));
    for (const d of drivers) d.idle = memory(d);

    await interleaved(drivers, WARMUP, async (d) => {
      await lifecycle(d, false);
      await lifecycle(d, true);
    });
    await interleaved(drivers, ITER, async (d) => {
      d.mount.push(await lifecycle(d, false));
      d.block.push(await lifecycle(d, true));
    });
    await interleaved(drivers, CC_ROUNDS, async (d) => {
      d.cc.push(await concurrentCreates(d));
    });
    for (const d of drivers) d.after = memory(d);
    for (const d of drivers) await stop(d);
  } finally {
    for (const d of drivers) if (d.proc.exitCode === null) d.proc.kill('SIGKILL');
    cleanupHost(base);
  }

  const out = (s: string) => process.stdout.write(`${s}\n`);
  out(`CSI lifecycle, 1 GiB volumes (Create→Stage→Publish→Unpublish→Unstage→Delete), ${ITER} samples per kind after ${WARMUP} warm-up, drivers interleaved`);
  const mem = (m: Memory | undefined) =>
    `rss ${m!.rss.toFixed(1)} MiB (with helpers: ${m!.tree.toFixed(1)} MiB, ${m!.processes} process${m!.processes > 1 ? 'es' : ''})`;
  for (const d of drivers) {
    out(summary(`${d.name} mount`, d.mount));
    out(summary(`${d.name} block`, d.block));
    out(summary(`${d.name} ${CONCURRENT} concurrent Creates`, d.cc));
    out(`${`${d.name} memory idle`.padEnd(34)} ${mem(d.idle)}`);
    out(`${`${d.name} memory after the run`.padEnd(34)} ${mem(d.after)}`);
  }
  const [ours, ref] = drivers as [Driver, Driver | undefined];
  const verdict = (v: number, t: number) => `${v.toFixed(2)}x (target ≤ ${t}x: ${v <= t ? 'met' : 'NOT met'})`;
  if (ref) {
    const ratio = (a: number[], b: number[]) => median(a) / median(b);
    out(
      `ratio hostplane/reference (medians): mount ${verdict(ratio(ours.mount, ref.mount), TARGET.mount)}, block ${verdict(ratio(ours.block, ref.block), TARGET.block)}, ${CONCURRENT} creates ${verdict(ratio(ours.cc, ref.cc), TARGET.creates)}`,
    );
    const p99 = (a: number[], b: number[]) => (percentile(a, 99) / percentile(b, 99)).toFixed(2);
    out(`ratio hostplane/reference (p99):     mount ${p99(ours.mount, ref.mount)}x, block ${p99(ours.block, ref.block)}x`);
    out(`memory hostplane/reference (idle, with helpers): ${(ours.idle!.tree / ref.idle!.tree).toFixed(1)}x`);
  }
  const idle = ours.idle!.tree;
  out(`hostplane CSI driver idle, with helpers: ${idle.toFixed(1)} MiB (target ≤ ${TARGET.rssIdleMiB} MiB: ${idle <= TARGET.rssIdleMiB ? 'met' : 'NOT met'})`);
}

main().catch((e: unknown) => {
  process.stderr.write(`csi bench failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});
