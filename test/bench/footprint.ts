// Footprint benchmark (npm run bench; not a test): what hostplane costs on
// every node, since every MiB and millisecond is paid once per node.
//   - agent start → /readyz 200, against two references started in the same
//     rounds: a bare `node -e 0` (the runtime's own floor) and
//     csi-driver-host-path start → socket (if $HOSTPATHPLUGIN is built);
//   - the agent's resident memory idle, with CSI, the device plugin, the CNI
//     install + CNI server and the Node watch (a Kubernetes API: the fake API
//     server of the tests, over https with a token) all on: the agent process,
//     and with every process it started (helpers, lock holders);
//   - 1,000 volume lifecycles through the agent's CSI socket: RSS and V8 heap
//     before and after (heap from the agent's own /metrics);
//   - the image size (`npm run image`).
// Routing stays off here: it would route to the fake peers from the host's
// own network namespace (tested, and benched, in namespaces of its own).
// Run: node_modules/.bin/node test/bench/footprint.ts [lifecycles]
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { csiClient, mountCap, blockCap, type CsiClient } from '../integration/csi/client.ts';
import { cleanupHost } from '../integration/csi/host.ts';
import { startFakeApiServer, nodeObject } from '../support/fake-apiserver.ts';
import { agentTestConfig } from '../support/agent-config.ts';
import { commandOf, descendants, memoryOf } from '../support/procs.ts';
import { median, percentile, nowMs, fmtMs } from './stats.ts';

const root = join(import.meta.dirname, '..', '..');
const BIN = join(root, 'dist', 'hostplane');
const NODE = join(root, 'dist', 'node');
const REFERENCE = process.env.HOSTPATHPLUGIN ?? '/usr/local/bin/hostpathplugin';
const LIFECYCLES = Number(process.argv[2] ?? 1000);
const STARTS = 10;
// The image must not grow past its size before this work (issue 13: 128.8 MiB on d17fb11).
const TARGET = { agentMiB: 80, readyMs: 1000, imageMiB: 128.8 };
const GiB = 1024 ** 3;
const out = (s: string) => process.stdout.write(`${s}\n`);

interface Agent {
  proc: ChildProcess;
  port: number;
  dir: string;
}

/** Start the agent and resolve once /readyz answers 200, with the time that took. */
async function startAgent(configFile: string, dir: string): Promise<{ agent: Agent; readyMs: number }> {
  const t0 = nowMs();
  const proc = spawn(BIN, ['agent', '--config', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  let port = 0;
  let log = '';
  proc.stderr!.on('data', (d: Buffer) => {
    log += d.toString();
    const m = /"port":(\d+)[^\n]*health and metrics server listening/.exec(log);
    if (m && !port) port = Number(m[1]);
  });
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`agent exited ${proc.exitCode}: ${log.slice(-2000)}`);
    if (nowMs() - t0 > 30_000) throw new Error(`agent not ready in 30 s: ${log.slice(-2000)}`);
    if (port) {
      const ok = await fetch(`http://127.0.0.1:${port}/readyz`)
        .then((r) => r.status === 200)
        .catch(() => false);
      if (ok) return { agent: { proc, port, dir }, readyMs: nowMs() - t0 };
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function stopAgent(a: Agent): Promise<void> {
  const exited = new Promise((r) => a.proc.once('exit', r));
  a.proc.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
  if (a.proc.exitCode === null) a.proc.kill('SIGKILL');
}

async function heapUsedMiB(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const m = /^hostplane_agent_nodejs_heap_size_used_bytes(?:\{[^}]*\})? ([\d.e+]+)/m.exec(text);
  return m ? Number(m[1]) / 2 ** 20 : NaN;
}

/** A bare process start to its first sign of life, as the runtime floor. */
function timeToExit(cmd: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = nowMs();
    const p = spawn(cmd, args, { stdio: 'ignore' });
    p.on('error', reject);
    p.on('exit', () => resolve(nowMs() - t0));
  });
}

async function timeToSocket(cmd: string, args: string[], sock: string): Promise<number> {
  const t0 = nowMs();
  const p = spawn(cmd, args, { stdio: 'ignore' });
  while (!existsSync(sock)) {
    if (p.exitCode !== null || nowMs() - t0 > 30_000) throw new Error(`${cmd} never made ${sock}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  const ms = nowMs() - t0;
  p.kill('SIGKILL');
  await new Promise((r) => p.once('exit', r));
  return ms;
}

let seq = 0;
async function lifecycle(c: CsiClient, dir: string, block: boolean): Promise<void> {
  const n = `fp-${seq++}`;
  const cap = block ? blockCap() : mountCap('ext4');
  const staging = join(dir, 'staging', n);
  const target = join(dir, 'pods', n, 'vol');
  mkdirSync(staging, { recursive: true });
  mkdirSync(dirname(target), { recursive: true });
  const { volume } = await c.controller.CreateVolume({ name: n, capacity_range: { required_bytes: GiB }, volume_capabilities: [cap] });
  const id = volume.volume_id;
  await c.node.NodeStageVolume({ volume_id: id, staging_target_path: staging, volume_capability: cap, volume_context: volume.volume_context });
  await c.node.NodePublishVolume({
    volume_id: id,
    staging_target_path: staging,
    target_path: target,
    volume_capability: cap,
    volume_context: volume.volume_context,
  });
  await c.node.NodeUnpublishVolume({ volume_id: id, target_path: target });
  await c.node.NodeUnstageVolume({ volume_id: id, staging_target_path: staging });
  await c.controller.DeleteVolume({ volume_id: id });
  rmSync(staging, { recursive: true, force: true });
  rmSync(dirname(target), { recursive: true, force: true });
}

function memoryLine(label: string, pid: number): { rss: number; tree: number } {
  const s = memoryOf(pid);
  const kids = descendants(pid);
  const kidRss = kids.map((k) => ({ k, rss: memoryOf(k).VmRSS ?? 0 }));
  const tree = (s.VmRSS ?? 0) + kidRss.reduce((a, b) => a + b.rss, 0);
  out(
    `${label.padEnd(34)} rss ${s.VmRSS?.toFixed(1)} MiB (anon ${s.RssAnon?.toFixed(1)}, file ${s.RssFile?.toFixed(1)}); with the ${kids.length} process(es) it started: ${tree.toFixed(1)} MiB${
      kidRss.length ? ` [${kidRss.map((x) => `${commandOf(x.k)} ${x.rss.toFixed(1)}`).join(', ')}]` : ''
    }`,
  );
  return { rss: s.VmRSS ?? NaN, tree };
}

async function main(): Promise<void> {
  if (!existsSync(BIN)) execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
  const base = mkdtempSync('/tmp/hp-footprint-');
  try {
    const api = await startFakeApiServer({ dir: base });
    const nodeName = `fp-${process.pid}`;
    api.upsert(nodeObject(nodeName, ['10.250.7.0/24'], ['127.0.0.1']));
    const cfg = agentTestConfig(base, { nodeName, cni: { podCIDRs: [] }, resource: `bench.hostplane.dev/fp${process.pid}` });
    const configFile = join(base, 'agent.json');
    writeFileSync(configFile, JSON.stringify({ ...cfg, logLevel: 'info', kubernetes: { apiServer: api.url, caFile: api.caFile, tokenFile: api.tokenFile } }));

    // Start-up, interleaved with the references.
    const ready: number[] = [];
    const bare: number[] = [];
    const ref: number[] = [];
    for (let i = 0; i < STARTS; i++) {
      bare.push(await timeToExit(NODE, ['-e', '0']));
      if (existsSync(REFERENCE)) {
        const rd = join(base, `ref-${i}`);
        mkdirSync(rd);
        ref.push(
          await timeToSocket(
            REFERENCE,
            ['--endpoint', `unix://${rd}/csi.sock`, '--nodeid', 'fp', '--drivername', 'hostpath.csi.k8s.io', '--statedir', join(rd, 'state'), '--v', '0'],
            join(rd, 'csi.sock'),
          ),
        );
      }
      const { agent, readyMs } = await startAgent(configFile, base);
      ready.push(readyMs);
      if (i < STARTS - 1) await stopAgent(agent);
      else {
        // The last one stays up: memory, then lifecycles. Idle is measured
        // past the CSI helper's idle stop (30 s, csi/volumes/helper-client.ts).
        await new Promise((r) => setTimeout(r, 35_000));
        out(`start, ${STARTS} starts each, interleaved:`);
        out(`  agent start → /readyz 200          median ${fmtMs(median(ready)).padStart(9)}  max ${fmtMs(Math.max(...ready))}`);
        out(`  reference: node -e 0 (start→exit)  median ${fmtMs(median(bare)).padStart(9)}`);
        if (ref.length) out(`  reference: hostpathplugin → socket median ${fmtMs(median(ref)).padStart(9)}`);
        out(
          `  agent ready / bare node start (medians): ${(median(ready) / median(bare)).toFixed(1)}x; target ≤ ${TARGET.readyMs} ms: ${median(ready) <= TARGET.readyMs ? 'met' : 'NOT met'}`,
        );
        out('memory, VmRSS (MiB = 2^20 bytes):');
        const idle = memoryLine('  agent idle, all components on', agent.proc.pid!);
        out(
          `  agent idle: ${idle.rss.toFixed(1)} MiB, ${idle.tree.toFixed(1)} MiB with what it started (target ≤ ${TARGET.agentMiB} MiB: ${idle.tree <= TARGET.agentMiB ? 'met' : idle.rss <= TARGET.agentMiB ? 'met by the agent process alone, NOT with what it started' : 'NOT met'})`,
        );

        const c = csiClient(join(base, 'csi', 'csi.sock'));
        const vols = join(base, 'vols');
        const kind = (i: number) => i % 4 !== 3; // three block lifecycles to one mount (ext4)
        const warm = 50;
        for (let j = 0; j < warm; j++) await lifecycle(c, vols, kind(j));
        await new Promise((r) => setTimeout(r, 2000));
        const rss0 = memoryOf(agent.proc.pid!).VmRSS ?? NaN;
        const heap0 = await heapUsedMiB(agent.port);
        const t0 = nowMs();
        const per: number[] = [];
        for (let j = 0; j < LIFECYCLES; j++) {
          const a = nowMs();
          await lifecycle(c, vols, kind(j));
          per.push(nowMs() - a);
        }
        const took = (nowMs() - t0) / 1000;
        await new Promise((r) => setTimeout(r, 2000));
        memoryLine('  agent busy (just after the run)', agent.proc.pid!);
        const rss1 = memoryOf(agent.proc.pid!).VmRSS ?? NaN;
        const heap1 = await heapUsedMiB(agent.port);
        out(
          `  ${LIFECYCLES} lifecycles (3 block : 1 ext4) after ${warm} warm-up, ${took.toFixed(0)} s, per lifecycle median ${fmtMs(median(per))} p99 ${fmtMs(percentile(per, 99))}:`,
        );
        out(`    agent rss  before ${rss0.toFixed(1)} MiB  after ${rss1.toFixed(1)} MiB  (${(rss1 - rss0 >= 0 ? '+' : '') + (rss1 - rss0).toFixed(1)} MiB)`);
        out(
          `    V8 heap used before ${heap0.toFixed(1)} MiB  after ${heap1.toFixed(1)} MiB  (${(heap1 - heap0 >= 0 ? '+' : '') + (heap1 - heap0).toFixed(1)} MiB)`,
        );
        c.close();
        await stopAgent(agent);
        cleanupHost(vols);
      }
    }
    await api.close();
  } finally {
    cleanupHost(base);
    rmSync(base, { recursive: true, force: true });
  }

  // The image, built the way `npm run image` builds it.
  const tar = join(root, 'dist', 'hostplane-image.tar');
  execFileSync(process.execPath, [join(root, 'daemonset', 'image', 'build.ts')], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  const mib = statSync(tar).size / 2 ** 20;
  out(`image dist/hostplane-image.tar: ${mib.toFixed(1)} MiB (target ≤ ${TARGET.imageMiB} MiB: ${mib <= TARGET.imageMiB ? 'met' : 'NOT met'})`);
}

main().catch((e: unknown) => {
  process.stderr.write(`footprint bench failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});
