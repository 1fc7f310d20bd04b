// The executable's LinkRunner under bun: ops netlink covers (address, link
// up/down, route, link delete) go over netlink in-process (netlink-ffi.ts), the
// rest (bridge and veth creation, port flags) through `ip -batch` as before.
// Saves the standalone ADD its in-netns `ip` exec and the standalone DEL its
// only exec.
import type { ExecResult } from '../../lib/exec.ts';
import { ExecError } from '../../lib/exec.ts';
import type { LinkOp, LinkRunner } from './ip-link.ts';
import { isNetlinkOp } from './netlink.ts';
import { applyNetlink } from './netlink-ffi.ts';

export class NetlinkRunner implements LinkRunner {
  private readonly fallback: LinkRunner;
  constructor(fallback: LinkRunner) {
    this.fallback = fallback;
  }

  async apply(ops: readonly LinkOp[], netns?: string): Promise<ExecResult | undefined> {
    if (ops.length === 0) return undefined;
    if (!ops.every(isNetlinkOp)) return this.fallback.apply(ops, netns);
    try {
      applyNetlink(ops, netns);
    } catch (e) {
      throw new ExecError('netlink', netns ? [netns] : [], 1, (e as Error).message);
    }
    return { stdout: '', stderr: '', exitCode: 0 };
  }

  async applyForce(ops: readonly LinkOp[], netns?: string): Promise<ExecResult | undefined> {
    if (ops.length === 0) return undefined;
    if (!ops.every(isNetlinkOp)) return this.fallback.applyForce(ops, netns);
    const failures = applyNetlink(ops, netns, true);
    return { stdout: '', stderr: failures.map((f) => f.message).join('\n'), exitCode: failures.length ? 1 : 0 };
  }

  json<T>(args: readonly string[], netns?: string): Promise<T> {
    return this.fallback.json<T>(args, netns);
  }
}
