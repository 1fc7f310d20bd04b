// The driver's side of `hostplane csi-helper` (helper-serve.ts): one
// long-lived process of the bun-compiled executable doing mount, umount and
// loop-device syscalls on request. RealFilesystems and RealLoopDevices ask it
// first and run the util-linux tool when it answers "unsupported", cannot
// start (an old or missing binary: retried a minute later) or died with the
// request in flight (HelperDiedError: the caller looks at what is on the host
// before redoing the work with the tool).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import type { HelperReply, HelperRequest } from './helper-protocol.ts';

/** The helper died (or was killed) while a request was in flight: whether the request took effect is unknown. */
export class HelperDiedError extends Error {
  constructor(why: string) {
    super(`csi helper exited mid-request (${why})`);
    this.name = 'HelperDiedError';
  }
}

export interface HelperLog {
  warn(o: object, msg: string): void;
  info(o: object, msg: string): void;
}

export interface CsiHelperOptions {
  /** The bun-compiled executable (dist/cni/hostplane), run as `BIN csi-helper`. */
  binary: string;
  log?: HelperLog;
  readyMs?: number;
  /** How long to do without a helper that would not start. */
  retryMs?: number;
  /** How long the helper may sit with nothing to do before it is stopped (default 30 s). */
  idleMs?: number;
}

// A node's volumes change in bursts (pods starting or going); between them
// the helper would hold ~35 MiB (the bun runtime's pages) for nothing. So it
// stops after IDLE_MS without a request and starts again (tens of ms) on the
// next one; the reads kubelet makes between bursts (stats) never need it.
const IDLE_MS = 30_000;

type Pending = { resolve(r: HelperReply): void; reject(e: Error): void };
type Request = HelperRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

/** The executable beside the running bundle (dist/hostplane.mjs → dist/cni/hostplane), if there is one. */
export function defaultHelperBinary(entry = process.argv[1]): string | undefined {
  if (!entry) return undefined;
  const bin = join(dirname(entry), 'cni', 'hostplane');
  return existsSync(bin) ? bin : undefined;
}

export class CsiHelper {
  private readonly opts: CsiHelperOptions;
  private proc: ChildProcess | undefined;
  private ready: Promise<boolean> | undefined;
  /** The running helper's requests in flight (each process has its own map). */
  private pending = new Map<number, Pending>();
  private idleTimer: NodeJS.Timeout | undefined;
  private nextId = 1;
  private retryAt = 0;
  private closed = false;
  /** Requests the helper answered (tests, logs). */
  served = 0;

  constructor(opts: CsiHelperOptions) {
    this.opts = opts;
  }

  /** The helper's answer; undefined when there is no helper now (use the tool). Rejects with HelperDiedError if it died meanwhile. */
  async call(req: Request): Promise<HelperReply | undefined> {
    clearTimeout(this.idleTimer);
    if (!(await this.up())) return undefined;
    const p = this.proc;
    if (!p?.stdin?.writable) return undefined;
    const id = this.nextId++;
    const pending = this.pending;
    return new Promise<HelperReply>((resolve, reject) => {
      pending.set(id, { resolve, reject });
      p.stdin!.write(`${JSON.stringify({ ...req, id })}\n`);
    });
  }

  /** Stop the helper once nothing is in flight for a while; the next call starts a new one. */
  private armIdle(p: ChildProcess, pending: Map<number, Pending>): void {
    clearTimeout(this.idleTimer);
    if (pending.size) return;
    this.idleTimer = setTimeout(() => {
      if (this.proc !== p || pending.size) return;
      this.retired.add(p);
      this.proc = undefined;
      this.ready = undefined;
      p.stdin?.end(); // it exits at the end of its input
      this.opts.log?.info({ pid: p.pid, idleMs: this.opts.idleMs ?? IDLE_MS }, 'csi helper stopped while idle');
    }, this.opts.idleMs ?? IDLE_MS);
    this.idleTimer.unref();
  }

  private readonly retired = new WeakSet<ChildProcess>();

  /** The helper's pid while it runs (tests). */
  get pid(): number | undefined {
    return this.proc?.pid;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.idleTimer);
    this.proc?.stdin?.end();
    this.proc = undefined;
    this.ready = undefined;
  }

  private up(): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    if (this.ready) return this.ready;
    if (Date.now() < this.retryAt) return Promise.resolve(false);
    this.ready = new Promise<boolean>((resolve) => {
      let p: ChildProcess;
      try {
        p = spawn(this.opts.binary, ['csi-helper'], { stdio: ['pipe', 'pipe', 'pipe'] });
      } catch (e) {
        this.unavailable(String(e));
        resolve(false);
        return;
      }
      this.proc = p;
      const pending = new Map<number, Pending>();
      this.pending = pending;
      let err = '';
      let isReady = false;
      p.stderr!.on('data', (d: Buffer) => {
        err = (err + d.toString()).slice(-2000);
      });
      p.stdin!.on('error', () => {
        /* the close handler fails what is pending */
      });
      const timer = setTimeout(() => p.kill('SIGKILL'), this.opts.readyMs ?? 5000);
      createInterface({ input: p.stdout! }).on('line', (line) => {
        let m: HelperReply & { ready?: boolean };
        try {
          m = JSON.parse(line);
        } catch {
          return;
        }
        if (m.ready && !isReady) {
          isReady = true;
          clearTimeout(timer);
          this.opts.log?.info({ binary: this.opts.binary, pid: p.pid }, 'csi helper ready');
          resolve(true);
          return;
        }
        const q = pending.get(m.id);
        if (!q) return;
        pending.delete(m.id);
        this.served++;
        q.resolve(m);
        this.armIdle(p, pending);
      });
      p.on('error', () => {
        /* close follows */
      });
      p.on('close', (code, sig) => {
        clearTimeout(timer);
        if (this.proc === p) {
          this.proc = undefined;
          this.ready = undefined;
        }
        if (!isReady) {
          this.unavailable(err.trim() || `exited ${sig ?? code}`);
          resolve(false);
        } else if (!this.closed && !this.retired.has(p)) {
          // Started again at the next request.
          this.opts.log?.warn({ code, sig, err: err.trim() }, 'csi helper exited');
        }
        for (const [id, q] of pending) {
          pending.delete(id);
          q.reject(new HelperDiedError(`${sig ?? code}`));
        }
      });
    });
    return this.ready;
  }

  private unavailable(why: string): void {
    // Not a helper (an older or foreign binary): do without it for a while.
    this.retryAt = Date.now() + (this.opts.retryMs ?? 60_000);
    this.opts.log?.warn({ binary: this.opts.binary, err: why }, 'csi helper unavailable; mounts and loop devices use the util-linux tools');
  }
}
