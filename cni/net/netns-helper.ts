// `hostplane netns-helper`: a long-lived process the agent starts once and
// sends the in-netns part of every ADD to (addresses, link up, routes), so an
// ADD through the agent execs nothing. For each request it enters the pod's
// netns (setns(2) on the netns file), opens a NETLINK_ROUTE socket there,
// sends one rtnetlink message per op and waits for its ack, then returns to
// the host netns. It runs in the bun-compiled executable, whose bun:ffi
// reaches libc directly (Node has no way to setns or speak netlink).
//
// stdin:  {"id":1,"netns":"/var/run/netns/x","ops":[LinkOp…]}\n
// stdout: {"id":1,"ok":true}\n  or  {"id":1,"ok":false,"index":2,"error":"…"}\n
import { createInterface } from 'node:readline';
import { dlopen, FFIType, ptr, read } from 'bun:ffi';
import { encode, ackOf, isNetlinkOp } from './netlink.ts';
import type { LinkOp } from './ip-link.ts';

const O_RDONLY = 0, O_CLOEXEC = 0o2000000, CLONE_NEWNET = 0x40000000;
const AF_NETLINK = 16, SOCK_RAW = 3, SOCK_CLOEXEC = 0o2000000, NETLINK_ROUTE = 0;

const { symbols: c } = dlopen('libc.so.6', {
  open: { args: [FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
  close: { args: [FFIType.i32], returns: FFIType.i32 },
  setns: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  send: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i64 },
  recv: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i64 },
  if_nametoindex: { args: [FFIType.ptr], returns: FFIType.u32 },
  __errno_location: { args: [], returns: FFIType.ptr },
  strerror: { args: [FFIType.i32], returns: FFIType.ptr },
});

const cstr = (s: string) => Buffer.from(`${s}\0`);
const errno = () => read.i32(c.__errno_location() as number);

const ERRNO_TEXT: Record<number, string> = { 1: 'Operation not permitted', 2: 'No such file or directory', 17: 'File exists', 19: 'No such device', 22: 'Invalid argument', 101: 'Network is unreachable', 99: 'Cannot assign requested address' };
const text = (e: number) => `${ERRNO_TEXT[e] ?? `errno ${e}`} (errno ${e})`;

class Failure extends Error {
  readonly index: number;
  constructor(index: number, msg: string) {
    super(msg);
    this.index = index;
  }
}

const home = c.open(ptr(cstr('/proc/self/ns/net')), O_RDONLY | O_CLOEXEC);
let seq = 1;
const rbuf = Buffer.alloc(8192);

function run(netns: string, ops: LinkOp[]): void {
  const fd = c.open(ptr(cstr(netns)), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw new Failure(0, `open ${netns}: ${text(errno())}`);
  try {
    if (c.setns(fd, CLONE_NEWNET) !== 0) throw new Failure(0, `setns ${netns}: ${text(errno())}`);
    // A netlink socket belongs to the netns it is created in.
    const sock = c.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (sock < 0) throw new Failure(0, `netlink socket: ${text(errno())}`);
    try {
      ops.forEach((op, i) => {
        if (!isNetlinkOp(op)) throw new Failure(i, `op ${op.op} is not served by the netns helper`);
        const index = c.if_nametoindex(ptr(cstr(op.dev)));
        if (!index) throw new Failure(i, `Cannot find device "${op.dev}"`);
        const s = seq++;
        const msg = encode(op, index, s);
        if (Number(c.send(sock, ptr(msg), msg.length, 0)) !== msg.length) throw new Failure(i, `netlink send: ${text(errno())}`);
        for (;;) {
          const n = Number(c.recv(sock, ptr(rbuf), rbuf.length, 0));
          if (n <= 0) throw new Failure(i, `netlink recv: ${text(errno())}`);
          const e = ackOf(rbuf.subarray(0, n), s);
          if (e === undefined) continue;
          if (e !== 0) throw new Failure(i, `RTNETLINK answers: ${text(e)}`);
          break;
        }
      });
    } finally {
      c.close(sock);
    }
  } finally {
    c.close(fd);
    // Back home: the next request must not start from this pod's netns.
    if (c.setns(home, CLONE_NEWNET) !== 0) {
      process.stderr.write(`netns-helper: cannot return to the host netns: ${text(errno())}\n`);
      process.exit(70);
    }
  }
}

export function serve(): void {
  if (home < 0) {
    process.stderr.write(`netns-helper: cannot open /proc/self/ns/net: ${text(errno())}\n`);
    process.exit(70);
  }
  process.stdout.write('{"ready":true}\n');
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    let id: unknown = null;
    try {
      const req = JSON.parse(line) as { id: unknown; netns: string; ops: LinkOp[] };
      id = req.id;
      run(req.netns, req.ops);
      process.stdout.write(JSON.stringify({ id, ok: true }) + '\n');
    } catch (e) {
      const index = e instanceof Failure ? e.index : 0;
      process.stdout.write(JSON.stringify({ id, ok: false, index, error: (e as Error).message }) + '\n');
    }
  });
  rl.on('close', () => process.exit(0));
}
