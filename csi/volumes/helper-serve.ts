// `hostplane csi-helper`: a long-lived process the CSI driver starts once and
// sends its mount, umount and loop-device work to, so the hot path of
// Stage/Publish/Unpublish/Unstage execs no util-linux tool (each exec costs
// 3.5-5.5 ms of start-up here; the syscalls well under one). The work is
// kernel-ffi.ts's; this is the line protocol around it (helper-protocol.ts).
// Requests are done one at a time, in order.
import { createInterface } from 'node:readline';
import { KernelError, loopAttach, loopDetach, loopList, loopSetCapacity, loopSetDirectIo, mountNow, umountNow } from './kernel-ffi.ts';
import { UnsupportedMountOption } from './mount-flags.ts';
import type { HelperReply, HelperRequest } from './helper-protocol.ts';

function handle(req: HelperRequest): Omit<HelperReply, 'id'> {
  switch (req.op) {
    case 'mount':
      mountNow(req);
      return { ok: true };
    case 'umount':
      umountNow(req.target, req.detachLoop);
      return { ok: true };
    case 'loop-attach':
      return { ok: true, ...loopAttach(req.image, req) };
    case 'loop-detach':
      loopDetach(req.device);
      return { ok: true };
    case 'loop-capacity':
      loopSetCapacity(req.device);
      return { ok: true };
    case 'loop-direct-io':
      loopSetDirectIo(req.device, req.on);
      return { ok: true };
    case 'loop-list':
      return { ok: true, loops: loopList() };
    default:
      return { ok: false, unsupported: true, error: `unknown op ${(req as { op: string }).op}` };
  }
}

export function serve(): void {
  process.stdout.write('{"ready":true}\n');
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    let id: unknown = null;
    let reply: Omit<HelperReply, 'id'>;
    try {
      const req = JSON.parse(line) as HelperRequest;
      id = req.id;
      reply = handle(req);
    } catch (e) {
      if (e instanceof UnsupportedMountOption) reply = { ok: false, unsupported: true, error: e.message };
      else if (e instanceof KernelError) reply = { ok: false, code: e.code, error: e.message };
      else reply = { ok: false, error: (e as Error).message };
    }
    process.stdout.write(`${JSON.stringify({ id, ...reply })}\n`);
  });
  rl.on('close', () => process.exit(0));
}
