// An exclusive, process-lifetime lock on a directory, so two agents (a botched
// upgrade, a manual run beside the DaemonSet) never serve the same state.
//
// Node has no flock(2), and a native addon would have to be compiled against
// the pinned Node's headers. flock(2) locks belong to an open file
// description, though, not to a process: so we open the lock file ourselves
// and hand that descriptor to flock(1) from util-linux as its fd 3
// (`flock --nonblock 3`, the shell's `exec 9>f; flock -n 9` idiom, without a
// shell). flock(1) locks it and exits at once; the lock stays with the
// description, which our descriptor keeps open. When this process exits for
// any reason (SIGKILL included) the kernel closes it and drops the lock. No
// process is left running for the lock (the holder used to be a `flock … cat`
// pair per directory, ~3.4 MiB resident each) and no stale lock file needs
// cleaning: the file stays, the lock does not. Our descriptors are
// close-on-exec, so no other child inherits (and so prolongs) the lock.
//
// The holder's pid is written into the lock file after the lock is taken, so
// a refused second agent can name it.
import { spawn } from 'node:child_process';
import { mkdir, open, readFile, type FileHandle } from 'node:fs/promises';
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
  // Not truncated on open: a refused agent must still read the holder's pid.
  const fh: FileHandle = await open(file, 'a+', 0o644);
  let outcome: { code: number | null; stderr: string; err?: Error };
  try {
    outcome = await new Promise((resolve) => {
      const child = spawn(flockBinary, ['--nonblock', '--conflict-exit-code', String(CONFLICT_EXIT), '3'], {
        stdio: ['ignore', 'ignore', 'pipe', fh.fd],
      });
      let stderr = '';
      child.stderr!.on('data', (b: Buffer) => {
        stderr += b.toString();
      });
      child.once('error', (err) => resolve({ code: null, stderr, err }));
      child.once('close', (code) => resolve({ code, stderr }));
    });
  } catch (e) {
    await fh.close();
    throw e;
  }
  if (outcome.code !== 0) {
    await fh.close();
    if (outcome.code === CONFLICT_EXIT) throw new DirLockedError(dir, await holderPid(file));
    throw new Error(`cannot lock ${dir} with ${flockBinary}: ${outcome.err?.message ?? `exit ${outcome.code}: ${outcome.stderr.trim()}`}`);
  }
  // Ours now: replace whatever pid a previous holder left.
  await fh.truncate(0);
  await fh.write(`${process.pid}\n`, 0);
  let released = false;
  return {
    dir,
    async release() {
      if (released) return;
      released = true;
      // Closing the last descriptor of the description drops the lock.
      await fh.close();
    },
  };
}
