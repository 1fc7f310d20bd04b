// The agent's side of the netns helper (netns-helper.ts): one long-lived
// `hostplane netns-helper` process that applies link ops over netlink, in the
// host's netns or a pod's, so a request through the agent execs nothing.
// Requests are answered in order. If the helper cannot start (an old or fake
// binary) or dies, the ops go to `fallback` (the persistent `ip -batch` channel
// for the host, one `ip -n NS -batch` exec per pod netns) and the helper is
// retried later.
import { ExecError, type ExecResult } from '../../lib/exec.ts';
import { HelperExitedError, LineHelper } from '../../lib/line-helper.ts';
import type { LinkOp, LinkRunner } from './ip-link.ts';
import { isNetlinkOp } from './netlink.ts';

interface Reply {
  id: number;
  ok?: boolean;
  error?: string;
  failed?: string[];
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
  private readonly helper: LineHelper<Reply>;

  constructor(opts: NetnsRunnerOptions) {
    this.opts = opts;
    this.helper = new LineHelper<Reply>({
      binary: opts.binary,
      mode: 'netns-helper',
      name: 'netns helper',
      fallback: 'in-netns ops use ip',
      ...(opts.log ? { log: opts.log } : {}),
      ...(opts.readyMs !== undefined ? { readyMs: opts.readyMs } : {}),
    });
  }

  /** Requests served by the helper (tests). */
  get served(): number {
    return this.helper.served;
  }

  apply(ops: readonly LinkOp[], netns?: string): Promise<ExecResult | undefined> {
    return this.request(ops, netns, false);
  }

  applyForce(ops: readonly LinkOp[], netns?: string): Promise<ExecResult | undefined> {
    return this.request(ops, netns, true);
  }

  json<T>(args: readonly string[], netns?: string): Promise<T> {
    return this.opts.fallback.json<T>(args, netns);
  }

  close(): void {
    this.helper.close();
  }

  private async request(ops: readonly LinkOp[], netns: string | undefined, force: boolean): Promise<ExecResult | undefined> {
    const fallback = () => (force ? this.opts.fallback.applyForce(ops, netns) : this.opts.fallback.apply(ops, netns));
    if (ops.length === 0 || !ops.every(isNetlinkOp)) return fallback();
    let m: Reply | undefined;
    try {
      m = await this.helper.call({ netns: netns ?? null, ops, force });
    } catch (e) {
      if (e instanceof HelperExitedError) throw new ExecError('netns-helper', [netns ?? 'host'], -1, `helper exited (${e.why})`);
      throw e;
    }
    if (!m) return fallback();
    if (m.ok) return { stdout: '', stderr: (m.failed ?? []).join('\n'), exitCode: m.failed?.length ? 1 : 0 };
    throw new ExecError('netns-helper', [netns ?? 'host'], 1, m.error ?? 'failed');
  }
}
