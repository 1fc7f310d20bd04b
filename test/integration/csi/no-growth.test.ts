// The CSI driver as shipped (dist/hostplane.mjs on the pinned runtime with
// the image's Node flags) does not grow: after a warm-up, 1,000 volume
// lifecycles (Create → Stage → Publish → Unpublish → Unstage → Delete; block
// and ext4 mount volumes mixed) leave its V8 heap and resident memory where
// they were. Heap is read after full GCs through a test-only preload
// (test/support/memory-probe.ts) over an IPC channel; RSS from /proc.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { NODE_FLAGS } from '../../../daemonset/image/node-flags.ts';
import type { MemorySample } from '../../support/memory-probe.ts';
import { csiClient, blockCap, mountCap, deleteVolumeRetrying, type CsiClient } from './client.ts';
import { waitForSocket, killHard, MiB } from './harness.ts';
import { cleanupHost } from './host.ts';

const root = join(import.meta.dirname, '..', '..', '..');
const LIFECYCLES = Number(process.env.HOSTPLANE_GROWTH_LIFECYCLES ?? 1000);
const WARMUP = 150;
const CONCURRENCY = 4;
// Bounds, from what a healthy driver shows here (1,000 lifecycles in ~45-80 s:
// heap 12.24 -> 12.25 MB, RSS 82.5 -> 82.0 MiB) and what a leak does: keeping each gRPC request object (~470
// bytes, six per lifecycle) added +2.8 MB of heap — caught by the heap bound;
// RSS moved only +0.7 MiB (V8 grows into pages it already holds), so RSS is a
// coarse second check, for native leaks (buffers, handles) the heap misses.
const HEAP_GROWTH_MAX = 768 * 1024;
const RSS_GROWTH_MAX = 8 * MiB;

let dir: string;
let driver: ChildProcess;
let client: CsiClient;

function sample(): Promise<MemorySample> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no memory sample from the driver')), 10_000);
    driver.once('message', (m) => {
      clearTimeout(t);
      resolve(m as MemorySample);
    });
    driver.send('memory');
  });
}

beforeAll(async () => {
  // dist/ is rebuilt when stale by the integration project's globalSetup (test/support/fresh-dist.ts).
  dir = mkdtempSync('/tmp/hp-csi-growth-');
  driver = spawn(
    join(root, 'dist', 'node'),
    [
      ...NODE_FLAGS,
      '--import',
      join(root, 'test', 'support', 'memory-probe.ts'),
      join(root, 'dist', 'hostplane.mjs'),
      'csi',
      '--endpoint',
      `unix://${dir}/csi.sock`,
      '--node-id',
      'growth-node',
      '--data-dir',
      `${dir}/data`,
      '--log-level',
      'warn',
    ],
    { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] },
  );
  await waitForSocket(join(dir, 'csi.sock'), driver);
  client = csiClient(join(dir, 'csi.sock'));
}, 180_000);

afterAll(async () => {
  client?.close();
  if (driver) await killHard(driver);
  if (dir) cleanupHost(dir);
});

let seq = 0;
async function lifecycle(): Promise<void> {
  const n = seq++;
  const name = `growth-${process.pid}-${n}`;
  // Three block volumes (no filesystem: the cheapest) for every ext4 mount volume.
  const cap = n % 4 === 3 ? mountCap('ext4') : blockCap();
  const size = n % 4 === 3 ? 32 * MiB : 8 * MiB;
  const staging = join(dir, 'staging', name);
  const target = join(dir, 'pods', name, 'vol');
  mkdirSync(staging, { recursive: true });
  mkdirSync(join(dir, 'pods', name), { recursive: true });
  const { volume } = await client.controller.CreateVolume({ name, capacity_range: { required_bytes: size }, volume_capabilities: [cap] });
  const id = volume.volume_id as string;
  await client.node.NodeStageVolume({ volume_id: id, staging_target_path: staging, volume_capability: cap });
  await client.node.NodePublishVolume({ volume_id: id, staging_target_path: staging, target_path: target, volume_capability: cap });
  await client.node.NodeUnpublishVolume({ volume_id: id, target_path: target });
  await client.node.NodeUnstageVolume({ volume_id: id, staging_target_path: staging });
  await deleteVolumeRetrying(client.controller, id);
  rmSync(staging, { recursive: true, force: true });
  rmSync(join(dir, 'pods', name), { recursive: true, force: true });
}

async function run(count: number): Promise<void> {
  let left = count;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (left-- > 0) await lifecycle();
    }),
  );
}

const mb = (b: number) => `${(b / MiB).toFixed(2)} MiB`;

describe('CSI driver memory', () => {
  it(`does not grow over ${LIFECYCLES} volume lifecycles`, async () => {
    await run(WARMUP);
    const before = await sample();
    const t0 = performance.now();
    await run(LIFECYCLES);
    const seconds = (performance.now() - t0) / 1000;
    const after = await sample();
    const report = {
      lifecycles: LIFECYCLES,
      seconds: Number(seconds.toFixed(1)),
      heapUsed: `${mb(before.heapUsed)} -> ${mb(after.heapUsed)}`,
      rss: `${mb(before.rss)} -> ${mb(after.rss)} (anon ${mb(before.rssAnon)} -> ${mb(after.rssAnon)}, file ${mb(before.rssFile)} -> ${mb(after.rssFile)})`,
    };
    process.stderr.write(`[no-growth] ${JSON.stringify(report)}\n`);
    expect(after.heapUsed - before.heapUsed, `heap growth; ${JSON.stringify(report)}`).toBeLessThan(HEAP_GROWTH_MAX);
    expect(after.rss - before.rss, `RSS growth; ${JSON.stringify(report)}`).toBeLessThan(RSS_GROWTH_MAX);
  }, 600_000);
});
