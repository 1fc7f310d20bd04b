import { describe, it, expect } from 'vitest';
import { convertResult, parseResult, SUPPORTED_VERSIONS, type Result } from '../../../cni/result.ts';

const full: Result = {
  interfaces: [
    { name: 'br0', mac: '02:00:00:00:00:01' },
    { name: 'eth0', mac: '0a:58:0a:00:00:05', mtu: 1400, sandbox: '/run/netns/x', socketPath: '/s', pciID: '0000:00:01.0' },
  ],
  ips: [
    { address: '10.0.0.5/24', gateway: '10.0.0.1', interface: 1 },
    { address: 'fd00::5/64', gateway: 'fd00::1', interface: 1 },
  ],
  routes: [{ dst: '0.0.0.0/0', gw: '10.0.0.1', mtu: 1400, advmss: 1360, priority: 5, table: 100, scope: 0 }],
  dns: { nameservers: ['10.0.0.10'] },
};

// One row per supported version: which version-specific fields appear.
const table = [
  { v: '0.3.0', ipVersion: true, v11: false },
  { v: '0.3.1', ipVersion: true, v11: false },
  { v: '0.4.0', ipVersion: true, v11: false },
  { v: '1.0.0', ipVersion: false, v11: false },
  { v: '1.1.0', ipVersion: false, v11: true },
] as const;

describe('result conversion', () => {
  it('covers every supported version', () => {
    expect(table.map((r) => r.v)).toEqual([...SUPPORTED_VERSIONS]);
  });
  it.each(table)('$v: ips[].version only before 1.0.0, 1.1.0 fields only in 1.1.0', ({ v, ipVersion, v11 }) => {
    const out = convertResult(full, v) as {
      cniVersion: string;
      ips: Record<string, unknown>[];
      interfaces: Record<string, unknown>[];
      routes: Record<string, unknown>[];
      dns: unknown;
    };
    expect(out.cniVersion).toBe(v);
    expect(out.ips[0]!.version).toBe(ipVersion ? '4' : undefined);
    expect(out.ips[1]!.version).toBe(ipVersion ? '6' : undefined);
    expect(out.ips[0]).toMatchObject({ address: '10.0.0.5/24', gateway: '10.0.0.1', interface: 1 });
    for (const k of ['mtu', 'socketPath', 'pciID']) expect(k in out.interfaces[1]!).toBe(v11);
    for (const k of ['mtu', 'advmss', 'priority', 'table', 'scope']) expect(k in out.routes[0]!).toBe(v11);
    expect(out.interfaces[1]!.sandbox).toBe('/run/netns/x');
    expect(out.dns).toEqual({ nameservers: ['10.0.0.10'] });
  });
  it.each(table)('a $v result reads back into the same internal result (round trip)', ({ v, v11 }) => {
    const back = parseResult(convertResult(full, v));
    expect(back.ips).toEqual(full.ips);
    if (v11) expect(back).toEqual(full);
    else expect(back.interfaces![1]!.mtu).toBeUndefined();
  });
  it('a prevResult that is not an object is a decode error (6)', () => {
    expect(() => parseResult('x')).toThrow(expect.objectContaining({ code: 6 }));
    expect(() => parseResult({ ips: [{ gateway: 'x' }] })).toThrow(expect.objectContaining({ code: 6 }));
  });
});
