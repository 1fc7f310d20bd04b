import { describe, it, expect } from 'vitest';
import { renderBatch, inNs } from '../../../cni/net/ip-link.ts';
import { addScript, delScript, gcScript, ids } from '../../../cni/net/masq.ts';
import { hostVethName, HOST_VETH_RE, containerMac, bridgeMac } from '../../../cni/net/veth.ts';
import { parseIp, formatIp, parseCidr } from '../../../cni/ipam/ip.ts';
import { makeRange, candidates, rangeSize } from '../../../cni/ipam/range.ts';

describe('ip-link ops', () => {
  it('render one ip -batch line per op', () => {
    expect(
      renderBatch([
        { op: 'route-add', dst: '0.0.0.0/0', via: '10.0.0.1', dev: 'eth0' },
        { op: 'addr-add', dev: 'eth0', cidr: 'fd00::5/64', nodad: true },
        { op: 'link-set', dev: 'br0', up: true, promisc: true },
      ]),
    ).toBe('route add 0.0.0.0/0 via 10.0.0.1 dev eth0\naddr add fd00::5/64 dev eth0 nodad\nlink set dev br0 promisc on up\n');
  });
  it('refuse a token that would change the meaning of the line', () => {
    expect(() => renderBatch([{ op: 'link-del', dev: 'eth0 up' }])).toThrow(/refusing/);
    expect(() => renderBatch([{ op: 'link-del', dev: '' }])).toThrow(/refusing/);
  });
  it('use ip -n for /run/netns names and nsenter for any other path', () => {
    expect(inNs(['-batch', '-'], '/var/run/netns/pod1')).toEqual({ args: ['-n', 'pod1', '-batch', '-'] });
    expect(inNs(['-batch', '-'], '/run/netns/pod1')).toEqual({ args: ['-n', 'pod1', '-batch', '-'] });
    expect(inNs(['-batch', '-'], '/proc/42/ns/net')).toEqual({ args: ['-batch', '-'], netns: '/proc/42/ns/net' });
  });
});

describe('names and MACs', () => {
  it('host veth names are deterministic, 15 bytes, and distinct per (container, ifname)', () => {
    const a = hostVethName('c1', 'eth0');
    expect(a).toMatch(HOST_VETH_RE);
    expect(a).toHaveLength(15);
    expect(hostVethName('c1', 'eth0')).toBe(a);
    expect(hostVethName('c1', 'eth1')).not.toBe(a);
  });
  it('container MAC is 0a:58 + IPv4, bridge MAC fixed; both locally administered unicast', () => {
    expect(containerMac(parseIp('10.5.0.7'))).toBe('0a:58:0a:05:00:07');
    const r = containerMac(undefined);
    expect(Number.parseInt(r.slice(0, 2), 16) & 3).toBe(2);
    expect(bridgeMac('br0')).toBe(bridgeMac('br0'));
    expect(Number.parseInt(bridgeMac('br0').slice(0, 2), 16) & 3).toBe(2);
  });
});

describe('addresses and ranges', () => {
  it.each(['10.0.0.1', '0.0.0.0', '255.255.255.255', '::', '::1', 'fd00::1', '2001:db8::8:800:200c:417a', '1:2:3:4:5:6:7:8'])('%s round-trips', (s) => {
    expect(formatIp(parseIp(s)!)).toBe(s);
  });
  it.each(['1.2.3', '1.2.3.256', '01.2.3.4', '1::2::3', 'fe80::1%eth0', 'x'])('%s is not an address', (s) => {
    expect(parseIp(s)).toBeUndefined();
  });
  it('candidates wrap once around the range and skip the gateway', () => {
    const r = makeRange(parseCidr('10.0.0.0/29')!, {}, 'r');
    expect(rangeSize(r)).toBe(5n);
    const all = [...candidates([r], 3n)].map((c) => formatIp(c.ip));
    expect(all).toEqual(['10.0.0.4', '10.0.0.5', '10.0.0.6', '10.0.0.2', '10.0.0.3']);
  });
});

describe('nftables scripts', () => {
  it('ADD rewrites the network chain and adds the pod addresses; DEL adds then deletes; GC flushes and refills', () => {
    const { chain, set4, set6 } = ids('net1');
    const add = addScript('net1', ['10.0.0.5/24', 'fd00::5/64']);
    expect(add).toContain(`flush chain inet hostplane ${chain}`);
    expect(add).toContain(`ip saddr @${set4} ip daddr != { 10.0.0.0/24 } masquerade`);
    expect(add).toContain(`ip6 saddr @${set6} ip6 daddr != { fd00::/64 } masquerade`);
    expect(add).toContain(`add element inet hostplane ${set4} { 10.0.0.5 }`);
    const del = delScript('net1', ['10.0.0.5/24']);
    expect(del.indexOf('add element')).toBeLessThan(del.indexOf('delete element'));
    expect(gcScript('net1', ['10.0.0.6'])).toMatch(/flush set inet hostplane \S+_4\n[\s\S]*add element inet hostplane \S+_4 \{ 10\.0\.0\.6 \}/);
  });
});
