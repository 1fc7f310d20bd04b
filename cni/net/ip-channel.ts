// The agent's host-side `ip`: one long-lived `ip -force -batch -` process fed
// over stdin, so a request's host ops (bridge, veth, port flags, link del)
// cost no exec at all and the ops of concurrent requests share one process.
//
// iproute2 executes each stdin line as it arrives and reports a failing line
// on stderr (unbuffered) as "Command failed -:N" with N the line number. Each
// group of ops is followed by a sentinel line that always fails (a device name
// no interface can have); its report means every line before it has run.
// Failures of other lines are attributed to their group by number. `-force`
// keeps the process alive past a failure; the price is that a group's later
// lines still run after an earlier one failed, which the ops tolerate (they
// act on the group's own veth, which the caller's undo removes).
//
// Ops inside a pod's netns cannot share the process (one `ip` cannot switch
// netns between lines); they go through `exec`, bounded by LimitedExec.
import { spawn, type ChildProcess } from 'node:child_process';
import { ExecError, type ExecResult, type HostExec } from '../../lib/exec.ts';
import { IpRoute, renderBatch, type LinkOp, type LinkRunner } from './ip-link.ts';
import { isLinkExistsError } from './bridge.ts';

const SENTINEL = 'link show dev hostplane~sentinel';
const FAILED_RE = /^Command failed -:(\d+)$/;

interface Group {
  ops: readonly LinkOp[];
  text: string;
  first: number;
  sentinel: number;
  force: boolean;
  failures: { index: number; detail: string }[];
  resolve(r: ExecResult): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

export interface IpChannelOptions {
  /** Bound on one group (the kernel work of a few link ops); the process is restarted past it. */
  groupTimeoutMs?: number;
  /** The `ip` binary (tests). */
  ipPath?: string;
  /** Where in-netns ops go (the netns helper); default: one `ip` exec each. */
  netns?: LinkRunner;
}

export class IpChannel implements LinkRunner {
  private readonly netnsRunner: LinkRunner;
  private readonly opts: Required<Omit<IpChannelOptions, 'netns'>>;
  private proc: ChildProcess | undefined;
  private line = 0;
  private groups: Group[] = [];
  private errBuf = '';
  private detail: string[] = [];
  private closed = false;
  /** Processes started (tests: one for many requests). */
  starts = 0;

  constructor(exec: HostExec, opts: IpChannelOptions = {}) {
    this.netnsRunner = opts.netns ?? new IpRoute(exec);
    this.opts = { groupTimeoutMs: opts.groupTimeoutMs ?? 30_000, ipPath: opts.ipPath ?? 'ip' };
  }

  apply(ops: readonly LinkOp[], netns?: string): Promise<ExecResult | undefined> {
    if (netns) return this.netnsRunner.apply(ops, netns);
    return this.submit(ops, false);
  }

  applyForce(ops: readonly LinkOp[], netns?: string): Promise<ExecResult | undefined> {
    if (netns) return this.netnsRunner.applyForce(ops, netns);
    return this.submit(ops, true);
  }

  json<T>(args: readonly string[], netns?: string): Promise<T> {
    return this.netnsRunner.json<T>(args, netns);
  }

  close(): void {
    this.closed = true;
    this.proc?.stdin?.end();
    this.fail(new Error('ip channel closed'));
  }

  private submit(ops: readonly LinkOp[], force: boolean): Promise<ExecResult | undefined> {
    if (ops.length === 0) return Promise.resolve(undefined);
    if (this.closed) return Promise.reject(new Error('ip channel closed'));
    const text = renderBatch(ops);
    const proc = this.ensure();
    return new Promise<ExecResult>((resolve, reject) => {
      const g: Group = {
        ops,
        text,
        first: 0,
        sentinel: 0,
        force,
        failures: [],
        resolve,
        reject,
        timer: setTimeout(() => this.restart(`no answer within ${this.opts.groupTimeoutMs} ms`), this.opts.groupTimeoutMs),
      };
      this.send(proc, g);
    });
  }

  private send(proc: ChildProcess, g: Group): void {
    g.first = this.line + 1;
    this.line += g.ops.length + 1;
    g.sentinel = this.line;
    g.failures = [];
    this.groups.push(g);
    proc.stdin!.write(`${g.text + SENTINEL}\n`);
  }

  private ensure(): ChildProcess {
    if (this.proc) return this.proc;
    // node:child_process rather than execa: this is one long-lived streaming
    // process whose stdin/stderr we drive line by line, not a call with a result.
    const p = spawn(this.opts.ipPath, ['-force', '-batch', '-'], {
      stdio: ['pipe', 'ignore', 'pipe'],
      env: { PATH: `${process.env.PATH ?? ''}:/usr/sbin:/usr/bin:/sbin:/bin`, LC_ALL: 'C' },
    });
    this.starts++;
    this.proc = p;
    this.line = 0;
    this.errBuf = '';
    this.detail = [];
    p.stdin!.on('error', () => {
      /* the exit handler fails the groups */
    });
    p.stderr!.setEncoding('utf8');
    p.stderr!.on('data', (d: string) => this.onStderr(d));
    const gone = (why: string) => {
      if (this.proc !== p) return;
      this.proc = undefined;
      // iproute2 exits (rather than reporting "Command failed") on some argument
      // errors. Lines run in order, so the first pending group holds the line
      // that killed it; the later groups never started: they go to a new process.
      const [culprit, ...rest] = this.groups;
      this.groups = [];
      if (culprit) {
        clearTimeout(culprit.timer);
        culprit.reject(new ExecError('ip', ['-batch', '-'], -1, [...this.detail, this.errBuf].join('\n').trim() || why));
      }
      if (rest.length === 0 || this.closed) return this.failAll(rest, why);
      const next = this.ensure();
      for (const g of rest) this.send(next, g);
    };
    p.on('error', (e) => gone(e.message));
    // 'close', not 'exit': every stderr line (the sentinels of finished groups) is read by then.
    p.on('close', (code, sig) => gone(`ip exited (${sig ?? code})`));
    return p;
  }

  private restart(why: string): void {
    const p = this.proc;
    this.proc = undefined;
    p?.kill('SIGKILL');
    this.fail(new ExecError('ip', ['-force', '-batch', '-'], -1, why));
  }

  private fail(e: Error): void {
    const gs = this.groups;
    this.groups = [];
    for (const g of gs) {
      clearTimeout(g.timer);
      g.reject(e);
    }
  }

  private failAll(gs: Group[], why: string): void {
    for (const g of gs) {
      clearTimeout(g.timer);
      g.reject(new ExecError('ip', ['-force', '-batch', '-'], -1, why));
    }
  }

  private onStderr(d: string): void {
    this.errBuf += d;
    for (let i = this.errBuf.indexOf('\n'); i >= 0; i = this.errBuf.indexOf('\n')) {
      const l = this.errBuf.slice(0, i);
      this.errBuf = this.errBuf.slice(i + 1);
      const m = FAILED_RE.exec(l);
      if (!m) {
        this.detail.push(l);
        continue;
      }
      const n = Number(m[1]);
      const detail = this.detail.join('\n');
      this.detail = [];
      const g = this.groups.find((x) => n >= x.first && n <= x.sentinel);
      if (!g) continue;
      if (n === g.sentinel) this.complete(g);
      else g.failures.push({ index: n - g.first, detail });
    }
  }

  private complete(g: Group): void {
    this.groups = this.groups.filter((x) => x !== g);
    clearTimeout(g.timer);
    // A concurrent creator (another request, a standalone plugin) made the
    // bridge first: what the line wanted exists.
    const failures = g.failures.filter((f) => !(g.ops[f.index]?.op === 'bridge-add' && isLinkExistsError(f.detail)));
    const stderr = failures.map((f) => f.detail).join('\n');
    if (failures.length && !g.force) g.reject(new ExecError('ip', ['-batch', '-'], 1, stderr));
    else g.resolve({ stdout: '', stderr, exitCode: failures.length ? 1 : 0 });
  }
}
