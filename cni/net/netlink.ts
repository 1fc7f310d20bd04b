// rtnetlink messages for the ops the agent runs inside a pod's netns (address,
// link up, route): encoded here, sent by the netns helper (netns-helper.ts) on a
// NETLINK_ROUTE socket opened inside the netns, so the agent's ADD needs no
// `ip` exec at all. Pure functions over Buffers: unit-tested without a kernel.
import { parseCidr, parseIp, type Ip } from '../ipam/ip.ts';
import type { LinkOp } from './ip-link.ts';

const RTM_NEWLINK = 16,
  RTM_DELLINK = 17,
  RTM_NEWADDR = 20,
  RTM_NEWROUTE = 24;
export const NLMSG_ERROR = 2;
const NLM_F_REQUEST = 0x1,
  NLM_F_ACK = 0x4,
  NLM_F_EXCL = 0x200,
  NLM_F_CREATE = 0x400;
const AF_INET = 2,
  AF_INET6 = 10;
const IFA_ADDRESS = 1,
  IFA_LOCAL = 2,
  IFA_FLAGS = 8,
  IFA_F_NODAD = 0x02;
const RTA_DST = 1,
  RTA_OIF = 4,
  RTA_GATEWAY = 5;
const IFF_UP = 1;
const RT_TABLE_MAIN = 254,
  RTPROT_BOOT = 3,
  RT_SCOPE_UNIVERSE = 0,
  RT_SCOPE_LINK = 253,
  RTN_UNICAST = 1;

/** The ops spoken over netlink; anything else goes to `ip`. */
export type NetlinkOp = LinkOp;

export function isNetlinkOp(o: LinkOp): o is NetlinkOp {
  return o.op !== 'link-set' || (o.promisc === undefined && o.up !== undefined);
}

const IFLA_ADDRESS = 1,
  IFLA_IFNAME = 3,
  IFLA_MTU = 4,
  IFLA_MASTER = 10,
  IFLA_LINKINFO = 18,
  IFLA_NET_NS_FD = 28;
const IFLA_INFO_KIND = 1,
  IFLA_INFO_DATA = 2,
  IFLA_INFO_SLAVE_KIND = 4,
  IFLA_INFO_SLAVE_DATA = 5;
const VETH_INFO_PEER = 1,
  IFLA_BRPORT_MODE = 4;
const NLA_F_NESTED = 0x8000,
  NLM_F_REPLACE = 0x100;

const str = (v: string) => Buffer.from(`${v}\0`);
const mac = (m: string) => Buffer.from(m.split(':').map((x) => parseInt(x, 16)));
const nested = (type: number, parts: Buffer[]) => attr(type | NLA_F_NESTED, Buffer.concat(parts));
function ifinfo(index = 0): Buffer {
  const b = Buffer.alloc(16);
  b.writeInt32LE(index, 4);
  return b;
}

/** What an op needs resolved before it can be encoded: ifindexes by name, fds of netns files. */
export interface Resolved {
  /** The op's own device (not for creations). */
  ifindex: number;
  /** bridge-add: none; veth-add: the bridge's index. */
  master?: number;
  /** veth-add: an open fd of the peer's netns. */
  peerNetnsFd?: number;
}

function attr(type: number, payload: Buffer): Buffer {
  const len = 4 + payload.length;
  const b = Buffer.alloc((len + 3) & ~3);
  b.writeUInt16LE(len, 0);
  b.writeUInt16LE(type, 2);
  payload.copy(b, 4);
  return b;
}
const u32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
};

function ipBytes(ip: Ip): Buffer {
  const n = ip.family === 4 ? 4 : 16;
  const b = Buffer.alloc(n);
  let v = ip.value;
  for (let i = n - 1; i >= 0; i--) {
    b[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return b;
}

function message(type: number, flags: number, seq: number, body: Buffer, attrs: Buffer[]): Buffer {
  const payload = Buffer.concat([body, ...attrs]);
  const h = Buffer.alloc(16);
  h.writeUInt32LE(16 + payload.length, 0);
  h.writeUInt16LE(type, 4);
  h.writeUInt16LE(flags | NLM_F_REQUEST | NLM_F_ACK, 6);
  h.writeUInt32LE(seq, 8);
  h.writeUInt32LE(0, 12);
  return Buffer.concat([h, payload]);
}

/** One request for `op`; `ifindex` is the op's device's index in the netns (0 for creations). */
export function encode(op: NetlinkOp, ifindex: number, seq: number, r: Omit<Resolved, 'ifindex'> = {}): Buffer {
  switch (op.op) {
    case 'bridge-add':
      return message(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, seq, ifinfo(), [
        attr(IFLA_IFNAME, str(op.name)),
        attr(IFLA_MTU, u32(op.mtu)),
        attr(IFLA_ADDRESS, mac(op.mac)),
        nested(IFLA_LINKINFO, [attr(IFLA_INFO_KIND, str('bridge'))]),
      ]);
    case 'veth-add': {
      if (r.master === undefined || r.peerNetnsFd === undefined) throw new Error('veth-add needs the master index and the peer netns fd');
      const peer = Buffer.concat([
        ifinfo(),
        attr(IFLA_IFNAME, str(op.peer.name)),
        attr(IFLA_ADDRESS, mac(op.peer.mac)),
        attr(IFLA_MTU, u32(op.peer.mtu)),
        attr(IFLA_NET_NS_FD, u32(r.peerNetnsFd)),
      ]);
      return message(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, seq, ifinfo(), [
        attr(IFLA_IFNAME, str(op.name)),
        attr(IFLA_MTU, u32(op.mtu)),
        attr(IFLA_MASTER, u32(r.master)),
        nested(IFLA_LINKINFO, [attr(IFLA_INFO_KIND, str('veth')), nested(IFLA_INFO_DATA, [attr(VETH_INFO_PEER | NLA_F_NESTED, peer)])]),
      ]);
    }
    case 'bridge-port':
      return message(RTM_NEWLINK, 0, seq, ifinfo(ifindex), [
        nested(IFLA_LINKINFO, [
          attr(IFLA_INFO_SLAVE_KIND, str('bridge')),
          nested(IFLA_INFO_SLAVE_DATA, [attr(IFLA_BRPORT_MODE, Buffer.from([op.hairpin ? 1 : 0]))]),
        ]),
      ]);
    case 'link-del': {
      const b = Buffer.alloc(16);
      b.writeInt32LE(ifindex, 4);
      return message(RTM_DELLINK, 0, seq, b, []);
    }
    case 'link-set': {
      const b = Buffer.alloc(16);
      b.writeInt32LE(ifindex, 4);
      b.writeUInt32LE(op.up ? IFF_UP : 0, 8);
      b.writeUInt32LE(IFF_UP, 12);
      return message(RTM_NEWLINK, 0, seq, b, []);
    }
    case 'addr-replace':
    case 'addr-add': {
      const replace = (op as LinkOp).op === 'addr-replace';
      const c = parseCidr(op.cidr);
      if (!c) throw new Error(`not a CIDR: ${op.cidr}`);
      const fam = c.ip.family === 4 ? AF_INET : AF_INET6;
      const b = Buffer.alloc(8);
      b[0] = fam;
      b[1] = c.prefix;
      b[2] = 0;
      b[3] = RT_SCOPE_UNIVERSE;
      b.writeUInt32LE(ifindex, 4);
      const a = ipBytes(c.ip);
      const attrs = [attr(IFA_LOCAL, a), attr(IFA_ADDRESS, a)];
      if (op.nodad) attrs.push(attr(IFA_FLAGS, u32(IFA_F_NODAD)));
      return message(RTM_NEWADDR, NLM_F_CREATE | (replace ? NLM_F_REPLACE : NLM_F_EXCL), seq, b, attrs);
    }
    case 'route-add': {
      const c = parseCidr(op.dst);
      if (!c) throw new Error(`not a CIDR: ${op.dst}`);
      const fam = c.ip.family === 4 ? AF_INET : AF_INET6;
      const b = Buffer.alloc(12);
      b[0] = fam;
      b[1] = c.prefix;
      b[4] = RT_TABLE_MAIN;
      b[5] = RTPROT_BOOT;
      b[6] = op.via ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
      b[7] = RTN_UNICAST;
      const attrs: Buffer[] = [];
      if (c.prefix > 0) attrs.push(attr(RTA_DST, ipBytes(c.ip)));
      if (op.via) {
        const gw = parseIp(op.via);
        if (!gw) throw new Error(`not an address: ${op.via}`);
        attrs.push(attr(RTA_GATEWAY, ipBytes(gw)));
      }
      attrs.push(attr(RTA_OIF, u32(ifindex)));
      return message(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, seq, b, attrs);
    }
  }
}

/** The errno (0 = success) of the kernel's ack for `seq` in `buf`, or undefined if it is not there. */
export function ackOf(buf: Buffer, seq: number): number | undefined {
  for (let off = 0; off + 16 <= buf.length; ) {
    const len = buf.readUInt32LE(off);
    if (len < 16) break;
    if (buf.readUInt16LE(off + 4) === NLMSG_ERROR && buf.readUInt32LE(off + 8) === seq) return -buf.readInt32LE(off + 16);
    off += (len + 3) & ~3;
  }
  return undefined;
}

/** The existing device an op acts on (undefined for creations). */
export function devOf(op: NetlinkOp): string | undefined {
  return op.op === 'bridge-add' || op.op === 'veth-add' ? undefined : op.dev;
}
