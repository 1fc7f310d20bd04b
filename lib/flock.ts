// An exclusive, process-lifetime lock on a directory, so two agents (a botched
// upgrade, a manual run beside the DaemonSet) never serve the same state.
//
// Node has no flock(2), and a native addon would have to be compiled against
// the pinned Node's headers (the machines' npm builds against /usr's Node 20).
// So the lock is held by flock(1) from util-linux, run as a child whose stdin
// is a pipe from us: `flock --nonblock FILE cat` (no shell: the image need not
// have one). We write one line to the pipe: `cat` runs, and so echoes it back,
// only once flock(1) holds the lock (flock's own --verbose output is buffered
// until it exits, so it cannot say so). The lock is held while `cat` waits on
// stdin; when this process exits for any
// reason (SIGKILL included) the kernel closes the pipe, `cat` sees EOF, the
// child exits and the kernel drops the lock. No stale lock file to clean up:
// the file stays, the lock does not.
//
// The holder's pid is written into the lock file after the lock is taken, so
// a refused second agent can name it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const LOCK_FILE = '.hostplane-agent.lock';
const CONFLICT_EXIT = 75; // EX_TEMPFAIL

export class DirLockedError extends Error {
  readonly dir: string;
  readonly holderPid: number | undefined;
  constructor(dir: string, holderPid: number | undefined) {
    super(`${dir} is locked by another hostplane process (pid ${holderPid ?? 'unknown'}); only one agent may run per node: stop the other one first`);
    this.name = 'DirLockedError';
    this.dir = dir;
    this.holderPid = holderPid;
  }
}

export interface DirLock {
  dir: string;
  /** Release the lock (idempotent). */
  release(): Promise<void>;
}

async function holderPid(file: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt((await readFile(file, 'utf8')).trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Take the lock on `dir` (created if missing) or throw DirLockedError naming the holder. */
export async function lockDir(dir: string, flockBinary = 'flock'): Promise<DirLock> {
  await mkdir(dir, { recursive: true });
  const file = join(dir, LOCK_FILE);
  const child: ChildProcess = spawn(flockBinary, ['--nonblock', '--conflict-exit-code', String(CONFLICT_EXIT), file, 'cat'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => {
    stderr += b.toString();
  });
  child.stdin!.on('error', () => {
    /* flock exited before reading: reported by its exit code */
  });
  child.stdin!.write('locked\n');
  const outcome = await new Promise<'locked' | { code: number | null; err?: Error }>((resolve) => {
    child.stdout!.once('data', () => resolve('locked'));
    child.once('error', (err) => resolve({ code: null, err }));
    child.once('exit', (code) => resolve({ code }));
  });
  if (outcome !== 'locked') {
    if (outcome.code === CONFLICT_EXIT) throw new DirLockedError(dir, await holderPid(file));
    throw new Error(`cannot lock ${dir} with ${flockBinary}: ${outcome.err?.message ?? `exit ${outcome.code}: ${stderr.trim()}`}`);
  }
  // The lock must not keep the event loop alive, nor be dropped early by GC.
  child.unref();
  for (const s of [child.stdin, child.stdout, child.stderr]) (s as unknown as { unref?: () => void } | null)?.unref?.();
  await writeFile(file, `${process.pid}\n`);
  let released = false;
  return {
    dir,
    async release() {
      if (released) return;
      released = true;
      if (child.exitCode !== null) return;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.ref(); // wait for it even when nothing else keeps the event loop alive
      child.stdin!.end();
      await gone;
    },
  };
}
