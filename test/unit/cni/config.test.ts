import { describe, it, expect } from 'vitest';
import { parseNetConf } from '../../../cni/config.ts';
import { CniError } from '../../../cni/errors.ts';

const base = { cniVersion: '1.1.0', name: 'net1', type: 'hostplane', ipam: { type: 'hostplane', subnet: '10.1.0.0/24' } };
const parse = (o: unknown) => parseNetConf(Buffer.from(typeof o === 'string' ? o : JSON.stringify(o)));
function codeOf(o: unknown): { code: number; msg: string } {
  try {
    parse(o);
  } catch (e) {
    if (e instanceof CniError) return { code: e.code, msg: e.message };
    throw e;
  }
  throw new Error('expected a CniError');
}

describe('config: defaults', () => {
  it('fills the reference bridge plugin defaults, hairpin on', () => {
    const c = parse(base);
    expect(c).toMatchObject({
      bridge: 'cni0',
      isGateway: false,
      isDefaultGateway: false,
      ipMasq: false,
      mtu: 1500,
      hairpinMode: true,
      promiscMode: false,
      logLevel: 'info',
    });
  });
  it('isDefaultGateway implies isGateway', () => {
    expect(parse({ ...base, isDefaultGateway: true }).isGateway).toBe(true);
  });
  it('a legacy top-level ipam.subnet becomes one range set with host-local defaults', () => {
    const c = parse(base);
    const ipam = c.ipam as { rangeSets: { start: { value: bigint }; end: { value: bigint }; gateway?: { value: bigint } }[][]; dataDir: string };
    expect(ipam.rangeSets).toHaveLength(1);
    const r = ipam.rangeSets[0]![0]!;
    expect(r.start.value & 0xffn).toBe(1n);
    expect(r.end.value & 0xffn).toBe(254n);
    expect(r.gateway!.value & 0xffn).toBe(1n);
    expect(ipam.dataDir).toBe('/var/lib/cni/networks');
  });
  it('reads the ips and mac capabilities from runtimeConfig and GC attachments from either key', () => {
    const c = parse({
      ...base,
      runtimeConfig: { ips: ['10.1.0.9/24'], mac: '0A:58:0A:01:00:09' },
      'cni.dev/attachments': [{ containerID: 'a', ifname: 'eth0' }],
    });
    expect(c.ips).toHaveLength(1);
    expect(c.mac).toBe('0a:58:0a:01:00:09');
    expect(c.validAttachments).toEqual([{ containerID: 'a', ifname: 'eth0' }]);
  });
  it('keeps any other ipam.type for delegation', () => {
    expect(parse({ ...base, ipam: { type: 'host-local', subnet: 'x' } }).ipam).toEqual({ kind: 'delegate', type: 'host-local' });
  });
});

describe('config: rejections name the field', () => {
  it.each([
    ['malformed JSON', '{"cniVersion":', 6, 'not valid JSON'],
    ['a JSON array', '[]', 6, 'JSON object'],
    ['unknown cniVersion', { ...base, cniVersion: '0.2.0' }, 1, 'incompatible CNI version 0.2.0'],
    ['missing cniVersion', { ...base, cniVersion: undefined }, 7, 'cniVersion'],
    ['missing name', { ...base, name: undefined }, 7, 'name'],
    ['bridge name over 15 bytes', { ...base, bridge: 'abcdefghijklmnop' }, 7, 'bridge'],
    ['mtu out of range', { ...base, mtu: 20 }, 7, 'mtu'],
    ['non-boolean ipMasq', { ...base, ipMasq: 'yes' }, 7, 'ipMasq'],
    ['bad subnet', { ...base, ipam: { type: 'hostplane', subnet: '10.1.0.0/33' } }, 7, 'ipam.subnet'],
    ['bad range subnet', { ...base, ipam: { type: 'hostplane', ranges: [[{ subnet: '300.1.0.0/24' }]] } }, 7, 'ipam.ranges[0][0].subnet'],
    ['rangeStart outside subnet', { ...base, ipam: { type: 'hostplane', ranges: [[{ subnet: '10.1.0.0/24', rangeStart: '10.2.0.1' }]] } }, 7, 'rangeStart'],
    ['gateway of the other family', { ...base, ipam: { type: 'hostplane', ranges: [[{ subnet: '10.1.0.0/24', gateway: 'fd00::1' }]] } }, 7, 'gateway'],
    ['mixed families in one range set', { ...base, ipam: { type: 'hostplane', ranges: [[{ subnet: '10.1.0.0/24' }, { subnet: 'fd00::/64' }]] } }, 7, 'mixes'],
    ['no ranges', { ...base, ipam: { type: 'hostplane' } }, 7, 'ranges'],
    ['bad route dst', { ...base, ipam: { type: 'hostplane', subnet: '10.1.0.0/24', routes: [{ dst: 'nowhere' }] } }, 7, 'ipam.routes[0].dst'],
    ['relative dataDir', { ...base, ipam: { type: 'hostplane', subnet: '10.1.0.0/24', dataDir: 'rel' } }, 7, 'ipam.dataDir'],
    ['bad runtimeConfig mac', { ...base, runtimeConfig: { mac: 'zz' } }, 7, 'runtimeConfig.mac'],
    ['multicast mac', { ...base, runtimeConfig: { mac: '01:00:5e:00:00:01' } }, 7, 'unicast'],
    ['bad runtimeConfig ip', { ...base, runtimeConfig: { ips: ['10.1.0.300'] } }, 7, 'runtimeConfig.ips[0]'],
    ['unknown logLevel', { ...base, logLevel: 'loud' }, 7, 'logLevel'],
    ['unimplemented vlan', { ...base, vlan: 100 }, 2, 'vlan'],
  ])('%s → code %i', (_n, input, code, msg) => {
    const r = codeOf(input);
    expect(r.code).toBe(code);
    expect(r.msg).toContain(msg);
  });
});
