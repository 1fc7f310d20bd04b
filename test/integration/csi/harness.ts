// Per-test driver harness: a temp dir under /tmp, a driver (in-process via
// startCsiDriver, or a child process that can be SIGKILLed), a client, and a
// teardown that leaves no loop device, mount or file behind.
import { mkdtempSync, existsSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { startCsiDriver, type CsiDriver } from '../../../csi/driver.ts';
import { silentLogger } from '../../../lib/logging.ts';
import { csiClient, type CsiClient } from './client.ts';
import { cleanupHost } from './host.ts';

const root = join(import.meta.dirname, '..', '..', '..');

export interface Harness {
  dir: string;
  dataDir: string;
  socket: string;
  client: CsiClient;
  driver: CsiDriver;
  /** Stop the driver (client kept), start a fresh one on the same data dir. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function startHarness(prefix: string, opts: { maxVolumes?: number; helperBinary?: string } = {}): Promise<Harness> {
  const dir = mkdtempSync(`/tmp/hp-csi-${prefix}-`);
  const dataDir = join(dir, 'data');
  const socket = join(dir, 'csi.sock');
  const start = () =>
    startCsiDriver({
      endpoint: `unix://${socket}`,
      nodeId: 'test-node',
      dataDir,
      log: silentLogger(),
      ...(opts.maxVolumes ? { maxVolumes: opts.maxVolumes } : {}),
      ...(opts.helperBinary ? { helperBinary: opts.helperBinary } : {}),
    });
  const h: Harness = {
    dir,
    dataDir,
    socket,
    driver: await start(),
    client: csiClient(socket),
    async restart() {
      await h.driver.close();
      h.client.close();
      h.driver = await start();
      h.client = csiClient(socket);
    },
    async close() {
      h.client.close();
      await h.driver.close().catch(() => {});
      cleanupHost(dir);
    },
  };
  return h;
}

export interface SpawnOptions {
  logLevel?: string;
  /** 'pipe' to read the driver's own log lines (its real logger writes JSON to stderr). */
  stderr?: 'inherit' | 'pipe';
  /** Run the driver under these argv words (e.g. setpriv dropping a capability). */
  wrapper?: string[];
  extraArgs?: string[];
  /** Node options before the script (e.g. `--import` of a test-only preload). */
  nodeArgs?: string[];
}

const NODE = join(root, 'node_modules', '.bin', 'node');

/** The driver as a separate process (source tree, pinned node), for SIGKILL tests. */
export function spawnDriver(dir: string, env: Record<string, string> = {}, opts: SpawnOptions = {}): ChildProcess {
  const argv = [
    ...(opts.nodeArgs ?? []),
    join(root, 'main.ts'),
    'csi',
    '--endpoint',
    `unix://${dir}/csi.sock`,
    '--node-id',
    'test-node',
    '--data-dir',
    `${dir}/data`,
    '--log-level',
    opts.logLevel ?? 'warn',
    ...(opts.extraArgs ?? []),
  ];
  const [file, args] = opts.wrapper?.length ? [opts.wrapper[0]!, [...opts.wrapper.slice(1), NODE, ...argv]] : [NODE, argv];
  return spawn(file, args, {
    stdio: ['ignore', 'ignore', opts.stderr ?? 'inherit'],
    env: { ...process.env, ...env },
  });
}

export async function waitForSocket(path: string, child?: ChildProcess): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (existsSync(path)) return;
    if (child && child.exitCode !== null) throw new Error(`driver exited ${child.exitCode}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`socket ${path} never appeared`);
}

export async function killHard(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

export const MiB = 1024 * 1024;
