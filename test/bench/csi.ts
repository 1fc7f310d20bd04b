// CSI benchmark (npm run bench; not a test). Measures, for hostplane's driver
// (the BUILT dist/hostplane csi) and, in the same run, the reference
// csi-driver-host-path (`hostpathplugin`, if installed at
// /usr/local/bin/hostpathplugin), doing the same work over the same gRPC client:
//   - the lifecycle Create → Stage → Publish → Unpublish → Unstage → Delete of
//     a 1 GiB mount volume (ext4) and of a 1 GiB block volume (median, p99);
//   - 20 concurrent CreateVolume calls (wall time of the batch);
//   - the driver's resident memory (VmRSS now, VmHWM peak).
// Run: node_modules/.bin/node test/bench/csi.ts [iterations]
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { csiClient, mountCap, blockCap, type CsiClient } from '../integration/csi/client.ts';
import { cleanupHost } from '../integration/csi/host.ts';
import { summary, median, percentile, nowMs, fmtMs } from './stats.ts';

const root = join(import.meta.dirname, '..', '..');
const OURS = join(root, 'dist', 'hostplane');
// HOSTPATHPLUGIN points at another build of the reference (e.g. a private GOBIN).
const REFERENCE = process.env.HOSTPATHPLUGIN ?? '/usr/local/bin/hostpathplugin';
const GiB = 1024 ** 3;
const ITER = Number(process.argv[2] ?? 15);
const WARMUP = 2;
const CONCURRENT = 20;

interface Driver {
  name: string;
  proc: ChildProcess;
  client: CsiClient;
  stage: boolean;
  dir: string;
}

async function waitForSocket(path: string, proc: ChildProcess): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (existsSync(path)) return;
    if (proc.exitCode !== null) throw new Error(`driver exited ${proc.exitCode}`);
    await new Promise((r) => setTimeout(r, 50));
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
  return { name, proc, client, stage, dir };
}

function memory(pid: number): { rss: number; hwm: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}

let seq = 0;
async function lifecycle(d: Driver, block: boolean): Promise<number> {
  const n = `bench-${block ? 'blk' : 'fs'}-${seq++}`;
  const cap = block ? blockCap() : mountCap('ext4');
  const staging = join(d.dir, 'staging', n);
  const target = join(d.dir, 'pods', n, 'vol');
  mkdirSync(staging, { recursive: true });
  // As kubelet does: the target's parent exists, the target itself is the driver's to make.
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

interface Result {
  mount: number[];
  block: number[];
  cc: number[];
  mem: { rss: number; hwm: number };
}

async function measure(d: Driver): Promise<Result> {
  for (let i = 0; i < WARMUP; i++) {
    await lifecycle(d, false);
    await lifecycle(d, true);
  }
  const r: Result = { mount: [], block: [], cc: [], mem: { rss: 0, hwm: 0 } };
  // Interleaved so that background noise on a shared machine hits both kinds alike.
  for (let i = 0; i < ITER; i++) {
    r.mount.push(await lifecycle(d, false));
    r.block.push(await lifecycle(d, true));
  }
  for (let i = 0; i < 5; i++) r.cc.push(await concurrentCreates(d));
  r.mem = memory(d.proc.pid!);
  return r;
}

async function stop(d: Driver): Promise<void> {
  d.client.close();
  const exited = new Promise((r) => d.proc.once('exit', r));
  d.proc.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
  if (d.proc.exitCode === null) d.proc.kill('SIGKILL');
}

async function main(): Promise<void> {
  if (!existsSync(OURS)) execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
  const base = mkdtempSync('/tmp/hp-csi-bench-');
  const results: Record<string, Result> = {};
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
    results.hostplane = await measure(ours);
    await stop(ours);

    if (existsSync(REFERENCE)) {
      const refDir = join(base, 'ref');
      mkdirSync(refDir);
      const ref = await start('hostpathplugin', refDir, REFERENCE, [
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
      ]);
      results.hostpathplugin = await measure(ref);
      await stop(ref);
    } else {
      process.stdout.write(`reference ${REFERENCE} not installed: printing hostplane's numbers only\n`);
    }
  } finally {
    cleanupHost(base);
  }

  process.stdout.write(`CSI lifecycle, 1 GiB volumes, ${ITER} iterations after ${WARMUP} warm-up (Create→Stage→Publish→Unpublish→Unstage→Delete)\n`);
  for (const [name, r] of Object.entries(results)) {
    process.stdout.write(`${summary(`${name} mount (ext4)`, r.mount)}\n`);
    process.stdout.write(`${summary(`${name} block`, r.block)}\n`);
    process.stdout.write(`${summary(`${name} ${CONCURRENT} concurrent Creates`, r.cc)}\n`);
    process.stdout.write(`${`${name} memory`.padEnd(34)} rss ${r.mem.rss.toFixed(1)} MiB  peak ${r.mem.hwm.toFixed(1)} MiB\n`);
  }
  const ours = results.hostplane!;
  const ref = results.hostpathplugin;
  if (ref) {
    const ratio = (a: number[], b: number[]) => median(a) / median(b);
    process.stdout.write(
      `ratio hostplane/reference (median): mount ${ratio(ours.mount, ref.mount).toFixed(2)}x (target ≤ 2x), block ${ratio(ours.block, ref.block).toFixed(2)}x (target ≤ 1x), ${CONCURRENT} creates ${ratio(ours.cc, ref.cc).toFixed(2)}x\n`,
    );
    process.stdout.write(
      `p99 hostplane/reference: mount ${(percentile(ours.mount, 99) / percentile(ref.mount, 99)).toFixed(2)}x, block ${(percentile(ours.block, 99) / percentile(ref.block, 99)).toFixed(2)}x\n`,
    );
  } else {
    process.stdout.write(`(no reference) hostplane medians: mount ${fmtMs(median(ours.mount))}, block ${fmtMs(median(ours.block))}\n`);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`csi bench failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});
