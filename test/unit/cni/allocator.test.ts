import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync, readdirSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { Allocator } from '../../../cni/ipam/allocator.ts';
import { parseNetConf, type HostplaneIpam } from '../../../cni/config.ts';
import { parseIp } from '../../../cni/ipam/ip.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hp-alloc-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function ipam(ranges: unknown): HostplaneIpam {
  return parseNetConf(
    Buffer.from(JSON.stringify({ cniVersion: '1.1.0', name: 'n', ipam: { type: 'hostplane', ranges, dataDir: dir, routes: [{ dst: '10.9.0.0/16' }] } })),
  ).ipam as HostplaneIpam;
}
const small = () => ipam([[{ subnet: '10.1.0.0/29' }]]); // .1 gateway, .2-.6 usable = 5
const o = (id: string) => ({ containerId: id, ifname: 'eth0' });

describe('allocator: allocate', () => {
  it('gives distinct addresses, never the gateway, with gateway and routes', () => {
    const a = new Allocator(small(), 'n', 'boot1');
    const got = ['a', 'b', 'c', 'd', 'e'].map((id) => a.allocate(o(id), []));
    const addrs = got.map((g) => g.ips[0]!.address);
    expect(new Set(addrs).size).toBe(5);
    expect(addrs).not.toContain('10.1.0.1/29');
    expect(got[0]!.ips[0]!.gateway).toBe('10.1.0.1');
    expect(got[0]!.routes).toEqual([{ dst: '10.9.0.0/16' }]);
  });
  it('an exhausted pool answers code 11 and reserves nothing', () => {
    const a = new Allocator(small(), 'n', 'boot1');
    for (const id of ['a', 'b', 'c', 'd', 'e']) a.allocate(o(id), []);
    expect(a.exhausted()).toBe(true);
    expect(() => a.allocate(o('f'), [])).toThrow(expect.objectContaining({ code: 11 }));
    expect(readdirSync(join(dir, 'n')).filter((f) => !f.startsWith('.'))).toHaveLength(5);
  });
  it('a repeated ADD of the same attachment gets its lease back, not a second one', () => {
    const a = new Allocator(small(), 'n', 'boot1');
    const first = a.allocate(o('a'), []);
    expect(a.allocate(o('a'), [])).toEqual(first);
    expect(a.store.leasedIps()).toHaveLength(1);
  });
  it('one address per range set (dual stack)', () => {
    const a = new Allocator(ipam([[{ subnet: '10.1.0.0/24' }], [{ subnet: 'fd00:1::/64' }]]), 'n', 'boot1');
    const g = a.allocate(o('a'), []);
    expect(g.ips.map((i) => i.address.includes(':'))).toEqual([false, true]);
    expect(g.ips[1]!.gateway).toBe('fd00:1::1');
  });
  it('honours a requested address and refuses one that is taken or out of range (code 7)', () => {
    const a = new Allocator(small(), 'n', 'boot1');
    expect(a.allocate(o('a'), [parseIp('10.1.0.5')!]).ips[0]!.address).toBe('10.1.0.5/29');
    expect(() => a.allocate(o('b'), [parseIp('10.1.0.5')!])).toThrow(expect.objectContaining({ code: 7 }));
    expect(() => a.allocate(o('c'), [parseIp('10.7.0.5')!])).toThrow(expect.objectContaining({ code: 7 }));
    expect(a.store.leasedIps()).toEqual(['10.1.0.5']);
  });
  it('skips an address whose lease file another process created first', () => {
    const a = new Allocator(small(), 'n', 'boot1');
    mkdirSync(join(dir, 'n'), { recursive: true });
    for (const h of [2, 3, 4, 5]) writeFileSync(join(dir, 'n', `10.1.0.${h}`), `other\r\neth0\r\nboot1`);
    writeFileSync(join(dir, 'n', '.hostplane-boot-id'), 'boot1');
    expect(a.allocate(o('a'), []).ips[0]!.address).toBe('10.1.0.6/29');
  });
});

describe('allocator: release, boots, GC', () => {
  it("release frees exactly the attachment's leases and is idempotent", () => {
    const a = new Allocator(small(), 'n', 'boot1');
    a.allocate(o('a'), []);
    a.allocate(o('b'), []);
    expect(a.release(o('a'))).toHaveLength(1);
    expect(a.release(o('a'))).toHaveLength(0);
    expect(a.store.byOwner('b', 'eth0')).toHaveLength(1);
  });
  it('leases of an earlier boot are reclaimed by the next allocation', () => {
    const old = new Allocator(small(), 'n', 'boot1');
    for (const id of ['a', 'b', 'c', 'd', 'e']) old.allocate(o(id), []);
    const now = new Allocator(small(), 'n', 'boot2');
    expect(now.exhausted()).toBe(false);
    now.allocate(o('f'), []);
    expect(now.store.all().map((l) => l.containerId)).toEqual(['f']);
  });
  it('GC keeps the valid attachments and releases the rest (ownerless leases too)', () => {
    const a = new Allocator(small(), 'n', 'boot1');
    a.allocate(o('a'), []);
    a.allocate(o('b'), []);
    writeFileSync(join(dir, 'n', '10.1.0.7'), ''); // an unreadable, ownerless lease
    const r = a.gc([o('b')]);
    expect(r.kept).toHaveLength(1);
    expect(r.released).toHaveLength(2);
    expect(a.store.all().map((l) => l.containerId)).toEqual(['b']);
  });
  it('GC removes temp files of processes killed mid-reservation, not those of live ones', () => {
    const a = new Allocator(small(), 'n', 'boot1');
    a.allocate(o('a'), []);
    writeFileSync(join(dir, 'n', '.lease-999999999-10.1.0.3'), 'dead');
    writeFileSync(join(dir, 'n', `.lease-${process.pid}-10.1.0.4`), 'alive');
    a.gc([o('a')]);
    expect(readdirSync(join(dir, 'n')).filter((f) => f.startsWith('.lease-'))).toEqual([`.lease-${process.pid}-10.1.0.4`]);
  });
  it('a state directory that cannot be reached is reported as inaccessible, not thrown', () => {
    const a = new Allocator(small(), 'n', 'boot1');
    expect(a.store.accessible()).toBe(true);
    writeFileSync(join(dir, 'file'), '');
    const blocked = new Allocator({ ...small(), dataDir: join(dir, 'file', 'sub') }, 'n', 'boot1');
    expect(blocked.store.accessible()).toBe(false);
  });
});
