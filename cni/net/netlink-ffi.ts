// rtnetlink from TypeScript: bun:ffi to libc (open, setns, socket, send,
// recv), so the bun-compiled executable and its netns-helper mode change
// links, addresses and routes without exec'ing `ip` (one `ip` exec costs more
// than the whole kernel work of an ADD's in-netns part). Ops inside a netns run
// with the calling thread setns(2)'d into it and back. Only under bun: Node
// never loads this file.
import { dlopen, FFIType, ptr, read } from 'bun:ffi';
import { encode, ackOf, isNetlinkOp, devOf } from './netlink.ts';
import type { LinkOp } from './ip-link.ts';

const O_RDONLY = 0,
  O_CLOEXEC = 0o2000000,
  CLONE_NEWNET = 0x40000000;
const AF_NETLINK = 16,
  SOCK_RAW = 3,
  SOCK_CLOEXEC = 0o2000000,
  NETLINK_ROUTE = 0;

const { symbols: c } = dlopen('libc.so.6', {
  open: { args: [FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
  close: { args: [FFIType.i32], returns: FFIType.i32 },
  setns: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  send: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i64 },
  recv: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i64 },
  if_nametoindex: { args: [FFIType.ptr], returns: FFIType.u32 },
  __errno_location: { args: [], returns: FFIType.ptr },
});

const cstr = (s: string) => Buffer.from(`${s}\0`);
const errno = () => read.i32(c.__errno_location() as number);
const ERRNO_TEXT: Record<number, string> = {
  1: 'Operation not permitted',
  2: 'No such file or directory',
  17: 'File exists',
  19: 'No such device',
  22: 'Invalid argument',
  99: 'Cannot assign requested address',
  101: 'Network is unreachable',
};
export const errnoText = (e: number) => `${ERRNO_TEXT[e] ?? `errno ${e}`} (errno ${e})`;

/** A failed op: `index` into the ops given, the kernel's answer in the message. */
export class NetlinkFailure extends Error {
  readonly index: number;
  constructor(index: number, msg: string) {
    super(msg);
    this.name = 'NetlinkFailure';
    this.index = index;
  }
}

let home = -1;
let seq = 1;
const rbuf = Buffer.alloc(8192);

function indexOf(name: string, i: number): number {
  const index = c.if_nametoindex(ptr(cstr(name)));
  if (!index) throw new NetlinkFailure(i, `Cannot find device "${name}"`);
  return index;
}

function sendOne(sock: number, op: LinkOp, i: number): void {
  if (!isNetlinkOp(op)) throw new NetlinkFailure(i, `op ${(op as LinkOp).op} is not done over netlink here`);
  const dev = devOf(op);
  const ifindex = dev === undefined ? 0 : indexOf(dev, i);
  let peerFd = -1;
  try {
    const extra: { master?: number; peerNetnsFd?: number } = {};
    if (op.op === 'veth-add') {
      extra.master = indexOf(op.master, i);
      peerFd = c.open(ptr(cstr(op.peer.netns)), O_RDONLY | O_CLOEXEC);
      if (peerFd < 0) throw new NetlinkFailure(i, `open ${op.peer.netns}: ${errnoText(errno())}`);
      extra.peerNetnsFd = peerFd;
    }
    const s = seq++;
    const msg = encode(op, ifindex, s, extra);
    if (Number(c.send(sock, ptr(msg), msg.length, 0)) !== msg.length) throw new NetlinkFailure(i, `netlink send: ${errnoText(errno())}`);
    for (;;) {
      const n = Number(c.recv(sock, ptr(rbuf), rbuf.length, 0));
      if (n <= 0) throw new NetlinkFailure(i, `netlink recv: ${errnoText(errno())}`);
      const e = ackOf(rbuf.subarray(0, n), s);
      if (e === undefined) continue;
      if (e !== 0) throw new NetlinkFailure(i, `RTNETLINK answers: ${errnoText(e)}`);
      return;
    }
  } finally {
    if (peerFd >= 0) c.close(peerFd);
  }
}

/**
 * Apply `ops` in order (in the netns at `netns` when given), stopping at the
 * first failure (thrown as NetlinkFailure), or, with `force`, carrying on and
 * returning every failure.
 */
export function applyNetlink(ops: readonly LinkOp[], netns: string | undefined, force = false): NetlinkFailure[] {
  if (home < 0) {
    home = c.open(ptr(cstr('/proc/self/ns/net')), O_RDONLY | O_CLOEXEC);
    if (home < 0) throw new NetlinkFailure(0, `open /proc/self/ns/net: ${errnoText(errno())}`);
  }
  let fd = -1;
  if (netns) {
    fd = c.open(ptr(cstr(netns)), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw new NetlinkFailure(0, `open ${netns}: ${errnoText(errno())}`);
  }
  const failures: NetlinkFailure[] = [];
  try {
    if (fd >= 0 && c.setns(fd, CLONE_NEWNET) !== 0) throw new NetlinkFailure(0, `setns ${netns}: ${errnoText(errno())}`);
    // A netlink socket belongs to the netns it is created in.
    const sock = c.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (sock < 0) throw new NetlinkFailure(0, `netlink socket: ${errnoText(errno())}`);
    try {
      ops.forEach((op, i) => {
        try {
          sendOne(sock, op, i);
        } catch (e) {
          if (!force || !(e instanceof NetlinkFailure)) throw e;
          failures.push(e);
        }
      });
    } finally {
      c.close(sock);
    }
  } finally {
    if (fd >= 0) {
      c.close(fd);
      // Back home: what runs next must not run in the pod's netns.
      if (c.setns(home, CLONE_NEWNET) !== 0) {
        process.stderr.write(`hostplane: cannot return to the host netns: ${errnoText(errno())}\n`);
        process.exit(70);
      }
    }
  }
  return failures;
}
