// The agent's side of the netns helper (netns-helper.ts): one long-lived
// `hostplane netns-helper` process that applies link ops over netlink, in the
// host's netns or a pod's, so a request through the agent execs nothing.
// Requests are answered in order. If the helper cannot start (an old or fake
// binary) or dies, the ops go to `fallback` (the persistent `ip -batch` channel
// for the host, one `ip -n NS -batch` exec per pod netns) and the helper is
// retried later.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { ExecError, type ExecResult } from '../../lib/exec.ts';
import type { LinkOp, LinkRunner } from './ip-link.ts';
import { isNetlinkOp } from './netlink.ts';

interface Pending {
  resolve(r: ExecResult): void;
  reject(e: Error): void;
  netns: string;
}

export interface NetnsRunnerOptions {
  /** The bun-compiled executable (dist/cni/hostplane), run as `BIN netns-helper`. */
  binary: string;
  fallback: LinkRunner;
  log?: { warn(o: object, msg: string): void; info(o: object, msg: string): void };
  readyMs?: number;
}

export class NetnsRunner implements LinkRunner {
  private readonly opts: NetnsRunnerOptions;
  private proc: ChildProcess | undefined;
  private ready: Promise<boolean> | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private retryAt = 0;
  private closed = false;
  /** Requests served by the helper (tests). */
  served = 0;

  constructor(opts: NetnsRunnerOptions) {
    this.opts = opts;
  }

  async apply(ops: readonly LinkOp[], netns?: string): Promise<ExecResult | undefined> {
    if (ops.length === 0 || !ops.every(isNetlinkOp) || !(await this.up())) return this.opts.fallback.apply(ops, netns);
    return this.request(ops, netns, false);
  }

  async applyForce(ops: readonly LinkOp[], netns?: string): Promise<ExecResult | undefined> {
    if (ops.length === 0 || !ops.every(isNetlinkOp) || !(await this.up())) return this.opts.fallback.applyForce(ops, netns);
    return this.request(ops, netns, true);
  }

  json<T>(args: readonly string[], netns?: string): Promise<T> {
    return this.opts.fallback.json<T>(args, netns);
  }

  close(): void {
    this.closed = true;
    this.proc?.stdin?.end();
    this.proc = undefined;
  }

  private request(ops: readonly LinkOp[], netns: string | undefined, force: boolean): Promise<ExecResult> {
    const id = this.nextId++;
    return new Promise<ExecResult>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, netns: netns ?? 'host' });
      this.proc!.stdin!.write(`${JSON.stringify({ id, netns: netns ?? null, ops, force })}\n`);
    });
  }

  /** Start the helper if needed; false (use the fallback) while it cannot run. */
  private up(): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    if (this.ready) return this.ready;
    if (Date.now() < this.retryAt) return Promise.resolve(false);
    this.ready = new Promise<boolean>((resolve) => {
      const p = spawn(this.opts.binary, ['netns-helper'], { stdio: ['pipe', 'pipe', 'pipe'] });
      this.proc = p;
      let err = '';
      p.stderr!.on('data', (d: Buffer) => {
        err = (err + d.toString()).slice(-2000);
      });
      p.stdin!.on('error', () => {
        /* the close handler fails what is pending */
      });
      const timer = setTimeout(() => {
        p.kill('SIGKILL');
      }, this.opts.readyMs ?? 5000);
      let isReady = false;
      createInterface({ input: p.stdout! }).on('line', (line) => {
        let m: { ready?: boolean; id?: number; ok?: boolean; error?: string; failed?: string[] };
        try {
          m = JSON.parse(line);
        } catch {
          return;
        }
        if (m.ready && !isReady) {
          isReady = true;
          clearTimeout(timer);
          this.opts.log?.info({ binary: this.opts.binary, pid: p.pid }, 'netns helper ready');
          resolve(true);
          return;
        }
        const q = m.id !== undefined ? this.pending.get(m.id) : undefined;
        if (!q) return;
        this.pending.delete(m.id!);
        this.served++;
        if (m.ok) q.resolve({ stdout: '', stderr: (m.failed ?? []).join('\n'), exitCode: m.failed?.length ? 1 : 0 });
        else q.reject(new ExecError('netns-helper', [q.netns], 1, m.error ?? 'failed'));
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
          // Not a helper (an older or fake binary): do without it for a while.
          this.retryAt = Date.now() + 60_000;
          this.opts.log?.warn({ binary: this.opts.binary, code, sig, err: err.trim() }, 'netns helper unavailable; in-netns ops use ip');
          resolve(false);
        }
        for (const [id, q] of this.pending) {
          this.pending.delete(id);
          q.reject(new ExecError('netns-helper', [q.netns], -1, `helper exited (${sig ?? code}) ${err.trim()}`));
        }
      });
    });
    return this.ready;
  }
}
