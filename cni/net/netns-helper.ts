// `hostplane netns-helper`: a long-lived process the agent starts once and
// sends the in-netns part of every ADD to (addresses, link up, routes), so an
// ADD through the agent execs nothing. The work is netlink-ffi.ts's; this is
// the line protocol around it.
//
// stdin:  {"id":1,"netns":"/var/run/netns/x","ops":[LinkOp…]}\n
// stdout: {"id":1,"ok":true}\n  or  {"id":1,"ok":false,"index":2,"error":"…"}\n
import { createInterface } from 'node:readline';
import { applyNetlink, NetlinkFailure } from './netlink-ffi.ts';
import type { LinkOp } from './ip-link.ts';

export function serve(): void {
  process.stdout.write('{"ready":true}\n');
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    let id: unknown = null;
    try {
      const req = JSON.parse(line) as { id: unknown; netns: string; ops: LinkOp[] };
      id = req.id;
      applyNetlink(req.ops, req.netns);
      process.stdout.write(JSON.stringify({ id, ok: true }) + '\n');
    } catch (e) {
      const index = e instanceof NetlinkFailure ? e.index : 0;
      process.stdout.write(JSON.stringify({ id, ok: false, index, error: (e as Error).message }) + '\n');
    }
  });
  rl.on('close', () => process.exit(0));
}
