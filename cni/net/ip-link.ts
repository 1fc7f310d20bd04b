// A typed, netlink-style vocabulary for the link/address/route changes the
// plugin makes. Ops render to `ip -batch` lines so a whole step costs one exec
// (start-up is most of a CNI call's time); tokens are validated, never quoted
// by a shell.
import type { HostExec, ExecResult } from '../../lib/exec.ts';

export type LinkOp =
  | { op: 'bridge-add'; name: string; mtu: number; mac: string }
  /** The peer is created straight inside `peer.netns` (a path: iproute2 opens paths containing "/"). */
  | { op: 'veth-add'; name: string; mtu: number; master: string; peer: { name: string; mac: string; mtu: number; netns: string } }
  | { op: 'link-set'; dev: string; up?: boolean; promisc?: boolean }
  | { op: 'bridge-port'; dev: string; hairpin: boolean }
  | { op: 'addr-replace'; dev: string; cidr: string; nodad?: boolean }
  | { op: 'addr-add'; dev: string; cidr: string; nodad?: boolean }
  | { op: 'route-add'; dst: string; via?: string; dev: string }
  | { op: 'link-del'; dev: string };

function tokens(o: LinkOp): string[] {
  switch (o.op) {
    case 'bridge-add':
      return ['link', 'add', 'name', o.name, 'mtu', String(o.mtu), 'address', o.mac, 'type', 'bridge'];
    case 'veth-add':
      return [
        'link',
        'add',
        'name',
        o.name,
        'mtu',
        String(o.mtu),
        'master',
        o.master,
        'type',
        'veth',
        'peer',
        'name',
        o.peer.name,
        'address',
        o.peer.mac,
        'mtu',
        String(o.peer.mtu),
        'netns',
        o.peer.netns,
      ];
    case 'link-set': {
      const t = ['link', 'set', 'dev', o.dev];
      if (o.promisc !== undefined) t.push('promisc', o.promisc ? 'on' : 'off');
      if (o.up !== undefined) t.push(o.up ? 'up' : 'down');
      return t;
    }
    case 'bridge-port':
      return ['link', 'set', 'dev', o.dev, 'type', 'bridge_slave', 'hairpin', o.hairpin ? 'on' : 'off'];
    case 'addr-replace':
    case 'addr-add':
      return ['addr', o.op === 'addr-add' ? 'add' : 'replace', o.cidr, 'dev', o.dev, ...(o.nodad ? ['nodad'] : [])];
    case 'route-add':
      return ['route', 'add', o.dst, ...(o.via ? ['via', o.via] : []), 'dev', o.dev];
    case 'link-del':
      return ['link', 'del', 'dev', o.dev];
  }
}

/** One `ip -batch` line per op. A token with whitespace or a quote would change the meaning of the line. */
export function renderBatch(ops: readonly LinkOp[]): string {
  return `${ops
    .map((o) => {
      const t = tokens(o);
      for (const tok of t) if (tok === '' || /[\s"'\\#]/.test(tok)) throw new Error(`refusing ip token ${JSON.stringify(tok)}`);
      return t.join(' ');
    })
    .join('\n')}\n`;
}

/**
 * How to run `ip` inside a netns: `ip -n NAME` for a namespace under /run/netns
 * (containerd's and `ip netns add`'s place) saves the nsenter exec; any other
 * path goes through nsenter, since `ip -n` only takes names.
 */
export function inNs(args: readonly string[], netns: string | undefined): { args: string[]; netns?: string } {
  if (!netns) return { args: [...args] };
  const m = /^\/(?:var\/)?run\/netns\/([^/]+)$/.exec(netns);
  if (m && m[1] !== '.' && m[1] !== '..') return { args: ['-n', m[1]!, ...args] };
  return { args: [...args], netns };
}

/**
 * How the commands apply link ops: one `ip` exec per call (IpRoute, the
 * executable's), or the agent's persistent channel that batches host-side ops
 * of concurrent requests (cni/net/ip-channel.ts).
 */
export interface LinkRunner {
  /** Apply ops, stopping at (and throwing for) the first failure; `netns` runs them inside that namespace. */
  apply(ops: readonly LinkOp[], netns?: string): Promise<ExecResult | undefined>;
  /** Apply every op, carrying on past failures; a non-zero exitCode reports them. */
  applyForce(ops: readonly LinkOp[], netns?: string): Promise<ExecResult | undefined>;
  json<T>(args: readonly string[], netns?: string): Promise<T>;
}

export class IpRoute implements LinkRunner {
  private readonly exec: HostExec;
  constructor(exec: HostExec) {
    this.exec = exec;
  }

  /** Apply ops in one exec; `netns` runs them inside that namespace (any path). */
  async apply(ops: readonly LinkOp[], netns?: string): Promise<ExecResult | undefined> {
    if (ops.length === 0) return undefined;
    const t = inNs(['-batch', '-'], netns);
    return this.exec.run('ip', t.args, { input: renderBatch(ops), ...(t.netns ? { netns: t.netns } : {}) });
  }

  /** Like apply, but carries on after a failing line and reports the exit instead of throwing. */
  async applyForce(ops: readonly LinkOp[], netns?: string): Promise<ExecResult | undefined> {
    if (ops.length === 0) return undefined;
    const t = inNs(['-force', '-batch', '-'], netns);
    return this.exec.run('ip', t.args, { input: renderBatch(ops), allowFail: true, ...(t.netns ? { netns: t.netns } : {}) });
  }

  async json<T>(args: readonly string[], netns?: string): Promise<T> {
    const t = inNs(['-json', ...args], netns);
    const r = await this.exec.run('ip', t.args, t.netns ? { netns: t.netns } : {});
    return (r.stdout.trim() ? JSON.parse(r.stdout) : []) as T;
  }
}
