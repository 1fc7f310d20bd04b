// A throwaway containerd for tests: its own root, state, socket and opt dirs
// under one temp dir, the CRI plugin off. stop() kills what it started and
// unmounts whatever containerd left mounted below that dir (snapshots,
// rootfs), deepest first, even after a failed test.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

export interface Containerd {
  dir: string;
  address: string;
  ctr(args: string[], opts?: { timeoutMs?: number }): string;
  stop(): Promise<void>;
}

export async function startContainerd(): Promise<Containerd> {
  const dir = mkdtempSync(join(tmpdir(), 'hp-ctrd-'));
  const address = join(dir, 'containerd.sock');
  const config = join(dir, 'config.toml');
  writeFileSync(
    config,
    `${[
      'version = 2',
      `root = "${dir}/root"`,
      `state = "${dir}/state"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]',
      `  address = "${address}"`,
      '[ttrpc]',
      `  address = "${address}.ttrpc"`,
      '[debug]',
      '  address = ""',
      '[metrics]',
      '  address = ""',
      '[plugins."io.containerd.internal.v1.opt"]',
      `  path = "${dir}/opt"`,
    ].join('\n')}\n`,
  );
  const logFile = join(dir, 'containerd.log');
  let log = '';
  const proc: ChildProcess = spawn('containerd', ['--config', config, '--root', `${dir}/root`, '--state', `${dir}/state`, '--address', address], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  proc.stderr!.on('data', (b: Buffer) => {
    log += b.toString();
  });
  const ctr = (args: string[], opts: { timeoutMs?: number } = {}) =>
    execFileSync('ctr', ['-a', address, '-n', 'k8s.io', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: opts.timeoutMs ?? 120_000 });

  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      // Tasks first, so no shim outlives its containerd.
      try {
        for (const line of ctr(['task', 'ls', '-q'], { timeoutMs: 10_000 }).split('\n').filter(Boolean)) {
          try {
            ctr(['task', 'kill', '-s', 'SIGKILL', line], { timeoutMs: 10_000 });
          } catch {
            /* already gone */
          }
          await new Promise((r) => setTimeout(r, 300));
          try {
            ctr(['task', 'delete', '-f', line], { timeoutMs: 10_000 });
          } catch {
            /* already gone */
          }
        }
        for (const c of ctr(['containers', 'ls', '-q'], { timeoutMs: 10_000 }).split('\n').filter(Boolean)) {
          try {
            ctr(['containers', 'delete', c], { timeoutMs: 10_000 });
          } catch {
            /* already gone */
          }
        }
      } catch {
        /* containerd not answering: fall through to kill */
      }
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    }
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[4] ?? '')
      .filter((m) => m.startsWith(`${dir}/`))
      .sort()
      .reverse();
    for (const m of mounts) {
      try {
        execFileSync('umount', ['-l', m], { stdio: 'ignore' });
      } catch {
        /* already unmounted */
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 20_000;
  while (!existsSync(address)) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`containerd did not start: ${log.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  writeFileSync(logFile, '');
  return { dir, address, ctr, stop };
}
