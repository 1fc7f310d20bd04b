// The Node side of a long-lived helper process of the bun-compiled
// executable (`hostplane netns-helper`, `hostplane csi-helper`): the syscalls
// Node cannot make (netlink, mount, loop ioctls) go to it as JSON lines on its
// stdin, each with an id, and come back as JSON lines on its stdout. It says
// {"ready":true} first. One shape of client for every helper:
//   - started at the first request; a binary that does not say ready in time
//     (an old or foreign one) is done without for `retryMs`: call() answers
//     undefined and the caller uses its fallback (the host tool);
//   - a helper that dies fails the requests it held with HelperExitedError,
//     and the next request starts a new one;
//   - with `idleMs`, one left with nothing to do for that long is stopped.
// Each process has its own in-flight map, so one retired (idle, dead) never
// answers or fails its successor's requests.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/** The helper exited with this request in flight: whether it took effect is unknown. */
export class HelperExitedError extends Error {
  readonly why: string;
  constructor(name: string, why: string) {
    super(`${name} exited mid-request (${why})`);
    this.name = 'HelperExitedError';
    this.why = why;
  }
}

export interface LineHelperLog {
  warn(o: object, msg: string): void;
  info(o: object, msg: string): void;
}

export interface LineHelperOptions {
  /** The bun-compiled executable (dist/cni/hostplane). */
  binary: string;
  /** Its helper mode, the first argument (`netns-helper`, `csi-helper`). */
  mode: string;
  /** For log lines: "netns helper", "csi helper". */
  name: string;
  /** What the caller does while there is no helper, for the log line. */
  fallback: string;
  log?: LineHelperLog;
  /** How long a fresh helper has to say it is ready (default 5 s). */
  readyMs?: number;
  /** How long to do without a helper that would not start (default 60 s). */
  retryMs?: number;
  /** Stop a helper idle this long (default: never). */
  idleMs?: number;
}

type Pending<R> = { resolve(r: R): void; reject(e: Error): void };

export class LineHelper<Reply extends { id?: number }> {
  private readonly opts: LineHelperOptions;
  private proc: ChildProcess | undefined;
  private ready: Promise<boolean> | undefined;
  private pending = new Map<number, Pending<Reply>>();
  private readonly retired = new WeakSet<ChildProcess>();
  private idleTimer: NodeJS.Timeout | undefined;
  private nextId = 1;
  private retryAt = 0;
  private closed = false;
  /** Requests the helper answered (tests, logs). */
  served = 0;

  constructor(opts: LineHelperOptions) {
    this.opts = opts;
  }

  /** The helper's pid while it runs (tests). */
  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** The helper's answer to `req` (sent with an id added); undefined when there is no helper now. */
  async call(req: object): Promise<Reply | undefined> {
    clearTimeout(this.idleTimer);
    if (!(await this.up())) return undefined;
    const p = this.proc;
    if (!p?.stdin?.writable) return undefined;
    const id = this.nextId++;
    const pending = this.pending;
    return new Promise<Reply>((resolve, reject) => {
      pending.set(id, { resolve, reject });
      p.stdin!.write(`${JSON.stringify({ ...req, id })}\n`);
    });
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.idleTimer);
    this.proc?.stdin?.end();
    this.proc = undefined;
    this.ready = undefined;
  }

  private armIdle(p: ChildProcess, pending: Map<number, Pending<Reply>>): void {
    const idleMs = this.opts.idleMs;
    clearTimeout(this.idleTimer);
    if (idleMs === undefined || pending.size) return;
    this.idleTimer = setTimeout(() => {
      if (this.proc !== p || pending.size) return;
      this.retired.add(p);
      this.proc = undefined;
      this.ready = undefined;
      p.stdin?.end(); // it exits at the end of its input
      this.opts.log?.info({ pid: p.pid, idleMs }, `${this.opts.name} stopped while idle`);
    }, idleMs);
    this.idleTimer.unref();
  }

  /** Start the helper if needed; false (use the fallback) while it cannot run. */
  private up(): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    if (this.ready) return this.ready;
    if (Date.now() < this.retryAt) return Promise.resolve(false);
    this.ready = new Promise<boolean>((resolve) => {
      let p: ChildProcess;
      try {
        p = spawn(this.opts.binary, [this.opts.mode], { stdio: ['pipe', 'pipe', 'pipe'] });
      } catch (e) {
        this.unavailable(String(e));
        resolve(false);
        return;
      }
      this.proc = p;
      const pending = new Map<number, Pending<Reply>>();
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
        let m: Reply & { ready?: boolean };
        try {
          m = JSON.parse(line);
        } catch {
          return;
        }
        if (m.ready && !isReady) {
          isReady = true;
          clearTimeout(timer);
          this.opts.log?.info({ binary: this.opts.binary, pid: p.pid }, `${this.opts.name} ready`);
          resolve(true);
          return;
        }
        const q = m.id === undefined ? undefined : pending.get(m.id);
        if (!q) return;
        pending.delete(m.id!);
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
        const why = `${sig ?? code}${err.trim() ? `: ${err.trim()}` : ''}`;
        if (!isReady) {
          this.unavailable(why);
          resolve(false);
        } else if (!this.closed && !this.retired.has(p)) {
          // Started again at the next request.
          this.opts.log?.warn({ code, sig, err: err.trim() }, `${this.opts.name} exited`);
        }
        for (const [id, q] of pending) {
          pending.delete(id);
          q.reject(new HelperExitedError(this.opts.name, why));
        }
      });
    });
    return this.ready;
  }

  private unavailable(why: string): void {
    // Not a helper (an older or foreign binary): do without it for a while.
    this.retryAt = Date.now() + (this.opts.retryMs ?? 60_000);
    this.opts.log?.warn({ binary: this.opts.binary, err: why }, `${this.opts.name} unavailable; ${this.opts.fallback}`);
  }
}
