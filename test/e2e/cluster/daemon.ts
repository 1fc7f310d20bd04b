// Every daemon of the node runs in a session of its own (detached = setsid),
// logs to a file and leaves a pid file; it is stopped by that pid only, after
// checking the pid still runs the binary we started (pids are reused).
import { spawn } from 'node:child_process';
import { openSync, closeSync, writeFileSync, readFileSync, existsSync, rmSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DIR, DAEMON_PATH } from './layout.ts';

export interface DaemonSpec {
  name: string;
  bin: string;
  args: string[];
  env?: Record<string, string>;
}

export function startDaemon(spec: DaemonSpec): number {
  const log = openSync(join(DIR.logs, `${spec.name}.log`), 'a');
  try {
    const child = spawn(spec.bin, spec.args, {
      detached: true,
      stdio: ['ignore', log, log],
      env: { PATH: DAEMON_PATH, HOME: '/root', ...spec.env },
    });
    if (child.pid === undefined) throw new Error(`${spec.name}: spawn of ${spec.bin} failed`);
    child.unref();
    writeFileSync(join(DIR.pids, `${spec.name}.pid`), `${child.pid}\n${spec.bin}\n`);
    return child.pid;
  } finally {
    closeSync(log);
  }
}

function exeOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0];
  } catch {
    return undefined;
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z /.test(stat);
  } catch {
    return false;
  }
}

/** The pid of a daemon we started and that still runs its binary, or undefined. */
export function daemonPid(name: string): number | undefined {
  const file = join(DIR.pids, `${name}.pid`);
  if (!existsSync(file)) return undefined;
  const [pidText, bin] = readFileSync(file, 'utf8').split('\n');
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 1) return undefined;
  return alive(pid) && exeOf(pid) === bin ? pid : undefined;
}

export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** SIGTERM, then SIGKILL after `graceMs`. Synchronous: teardown also runs from a process 'exit' handler. */
export function stopDaemon(name: string, graceMs = 10_000): void {
  const pid = daemonPid(name);
  if (pid !== undefined) killPid(pid, graceMs);
  rmSync(join(DIR.pids, `${name}.pid`), { force: true });
}

export function killPid(pid: number, graceMs: number): void {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (alive(pid) && Date.now() < deadline) sleepSync(100);
  if (alive(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
    const hard = Date.now() + 5000;
    while (alive(pid) && Date.now() < hard) sleepSync(50);
  }
}

export function knownDaemons(): string[] {
  if (!existsSync(DIR.pids)) return [];
  return readdirSync(DIR.pids)
    .filter((f) => f.endsWith('.pid'))
    .map((f) => f.slice(0, -4));
}

export function logTail(name: string, chars = 3000): string {
  try {
    return readFileSync(join(DIR.logs, `${name}.log`), 'utf8').slice(-chars);
  } catch {
    return '';
  }
}
