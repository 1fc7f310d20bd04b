// `hostplane netns-helper`: a long-lived process the agent starts once and
// sends the link work of every ADD and DEL teardown to (bridge, veth, port
// flags, addresses, routes, in the host's netns or a pod's), so a request
// through the agent execs nothing. The work is netlink-ffi.ts's; this is
// the line protocol around it.
//
// stdin:  {"id":1,"netns":"/var/run/netns/x"|null,"ops":[LinkOp…],"force":false}\n
// stdout: {"id":1,"ok":true[,"failed":["…"]]}\n  or  {"id":1,"ok":false,"index":2,"error":"…"}\n
// (null netns: the host's; force: carry on past failures and list them)
import { createInterface } from 'node:readline';
import { applyNetlink, NetlinkFailure } from './netlink-ffi.ts';
import type { LinkOp } from './ip-link.ts';

export function serve(): void {
  process.stdout.write('{"ready":true}\n');
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    let id: unknown = null;
    try {
      const req = JSON.parse(line) as { id: unknown; netns: string | null; ops: LinkOp[]; force?: boolean };
      id = req.id;
      const failed = applyNetlink(req.ops, req.netns ?? undefined, req.force === true).map((f) => f.message);
      process.stdout.write(`${JSON.stringify({ id, ok: true, ...(failed.length ? { failed } : {}) })}\n`);
    } catch (e) {
      const index = e instanceof NetlinkFailure ? e.index : 0;
      process.stdout.write(`${JSON.stringify({ id, ok: false, index, error: (e as Error).message })}\n`);
    }
  });
  rl.on('close', () => process.exit(0));
}
