// rtnetlink encoding for the netns helper: the bytes the kernel expects
// (checked against the layout `ip` sends for the same commands).
import { describe, it, expect } from 'vitest';
import { encode, ackOf, isNetlinkOp } from '../../../cni/net/netlink.ts';

describe('netlink encoding', () => {
  it('addr add 10.5.0.7/24 nodad: RTM_NEWADDR, CREATE|EXCL|ACK|REQUEST, ifaddrmsg, IFA_LOCAL + IFA_ADDRESS + IFA_FLAGS', () => {
    const m = encode({ op: 'addr-add', dev: 'eth0', cidr: '10.5.0.7/24', nodad: true }, 3, 42);
    expect(m.readUInt32LE(0)).toBe(m.length);
    expect(m.readUInt16LE(4)).toBe(20);
    expect(m.readUInt16LE(6)).toBe(0x1 | 0x4 | 0x200 | 0x400);
    expect(m.readUInt32LE(8)).toBe(42);
    expect([...m.subarray(16, 20)]).toEqual([2, 24, 0, 0]);
    expect(m.readUInt32LE(20)).toBe(3);
    // IFA_LOCAL (2) then IFA_ADDRESS (1), 8 bytes each, then IFA_FLAGS (8) = NODAD.
    expect([m.readUInt16LE(24), m.readUInt16LE(26), ...m.subarray(28, 32)]).toEqual([8, 2, 10, 5, 0, 7]);
    expect([m.readUInt16LE(32), m.readUInt16LE(34)]).toEqual([8, 1]);
    expect([m.readUInt16LE(40), m.readUInt16LE(42), m.readUInt32LE(44)]).toEqual([8, 8, 2]);
    expect(m.length).toBe(48);
  });
  it('route add ::/0 via fd05::1: no RTA_DST for a default route, RTA_GATEWAY of 16 bytes, RTA_OIF', () => {
    const m = encode({ op: 'route-add', dst: '::/0', via: 'fd05::1', dev: 'eth0' }, 7, 1);
    expect(m.readUInt16LE(4)).toBe(24);
    expect([...m.subarray(16, 24)]).toEqual([10, 0, 0, 0, 254, 3, 0, 1]);
    expect([m.readUInt16LE(28), m.readUInt16LE(30)]).toEqual([20, 5]);
    expect(m[32]).toBe(0xfd);
    expect(m[47]).toBe(1);
    expect([m.readUInt16LE(48), m.readUInt16LE(50), m.readUInt32LE(52)]).toEqual([8, 4, 7]);
  });
  it('veth add: RTM_NEWLINK CREATE|EXCL with name, mtu, master and a nested veth peer carrying its netns fd', () => {
    const op = {
      op: 'veth-add' as const,
      name: 'veth0',
      mtu: 1400,
      master: 'br0',
      peer: { name: 'eth0', mac: '0a:58:0a:00:00:05', mtu: 1400, netns: '/run/netns/x' },
    };
    expect(() => encode(op, 0, 1)).toThrow(/master index and the peer netns fd/);
    const m = encode(op, 0, 1, { master: 4, peerNetnsFd: 9 });
    expect([m.readUInt16LE(4), m.readUInt16LE(6) & 0x600]).toEqual([16, 0x600]);
    expect(m.includes(Buffer.from('veth\0'))).toBe(true);
    expect(m.includes(Buffer.from('eth0\0'))).toBe(true);
    expect(m.includes(Buffer.from([0x0a, 0x58, 0x0a, 0, 0, 5]))).toBe(true);
  });
  it('link del: RTM_DELLINK by index', () => {
    const m = encode({ op: 'link-del', dev: 'veth0' }, 11, 6);
    expect([m.readUInt16LE(4), m.readInt32LE(20)]).toEqual([17, 11]);
  });
  it('link set up: RTM_NEWLINK with IFF_UP in flags and change', () => {
    const m = encode({ op: 'link-set', dev: 'eth0', up: true }, 9, 5);
    expect(m.readUInt16LE(4)).toBe(16);
    expect([m.readInt32LE(20), m.readUInt32LE(24), m.readUInt32LE(28)]).toEqual([9, 1, 1]);
  });
  it('reads the errno of the ack for its sequence number; every op but a promisc change is spoken over netlink', () => {
    const ack = Buffer.alloc(36);
    ack.writeUInt32LE(36, 0);
    ack.writeUInt16LE(2, 4);
    ack.writeUInt32LE(8, 8);
    ack.writeInt32LE(-17, 16);
    expect(ackOf(ack, 8)).toBe(17);
    expect(ackOf(ack, 9)).toBeUndefined();
    expect(isNetlinkOp({ op: 'link-del', dev: 'x' })).toBe(true);
    expect(isNetlinkOp({ op: 'bridge-add', name: 'b', mtu: 1500, mac: '02:00:00:00:00:01' })).toBe(true);
    expect(isNetlinkOp({ op: 'link-set', dev: 'x', up: true, promisc: true })).toBe(false);
  });
});
