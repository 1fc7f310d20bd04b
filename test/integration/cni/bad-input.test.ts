// Every bad input gets the spec's error code on stdout, a non-zero exit, and changes nothing on the host.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, readdirSync } from 'node:fs';
import { ensureBuilt, runPlugin, Sandbox, sh } from './helpers.ts';
import { hostVethName } from '../../../cni/net/veth.ts';

const sb = new Sandbox('hpb');
const bridge = sb.bridge();
let ns = '';
beforeAll(() => {
  ensureBuilt();
  ns = sb.netns('x');
});
afterAll(() => sb.cleanup());

const good = () => ({
  cniVersion: '1.1.0',
  name: `${sb.tag}-net`,
  type: 'hostplane',
  bridge,
  isGateway: true,
  ipMasq: true,
  ipam: { type: 'hostplane', subnet: '10.212.0.0/24', dataDir: sb.dataDir },
});
const call = { containerId: `${sb.tag}-c`, netns: '' };

function nothingLeft(): void {
  expect(existsSync(`/sys/class/net/${bridge}`)).toBe(false);
  expect(readdirSync(sb.dataDir).flatMap((d) => readdirSync(`${sb.dataDir}/${d}`).filter((f) => !f.startsWith('.')))).toEqual([]);
  expect(sh('ip', ['-n', ns.split('/').pop()!, 'link', 'show', 'eth0']).code).not.toBe(0);
  expect(existsSync(`/sys/class/net/${hostVethName(call.containerId, 'eth0')}`)).toBe(false);
}

describe('ADD with bad input', () => {
  it.each([
    ['malformed JSON', 6, () => '{"cniVersion": "1.1.0", "name": ', {}],
    ['unknown cniVersion', 1, () => ({ ...good(), cniVersion: '9.9.9' }), {}],
    ['bad subnet CIDR', 7, () => ({ ...good(), ipam: { type: 'hostplane', subnet: '10.212.0.0/99', dataDir: sb.dataDir } }), {}],
    [
      'bad rangeStart',
      7,
      () => ({ ...good(), ipam: { type: 'hostplane', ranges: [[{ subnet: '10.212.0.0/24', rangeStart: '10.212.0.x' }]], dataDir: sb.dataDir } }),
      {},
    ],
    ['interface name over 15 characters', 4, () => good(), { ifname: 'eth0-much-too-long' }],
    ['bridge name over 15 characters', 7, () => ({ ...good(), bridge: 'bridge-name-too-long' }), {}],
    ['missing CNI_CONTAINERID', 4, () => good(), { containerId: '' }],
    ['missing CNI_NETNS', 4, () => good(), { netns: '' }],
    ['unknown CNI_ARGS key', 4, () => good(), { args: 'FOO=bar' }],
    ['a netns path that does not exist', 3, () => good(), { netns: '/var/run/netns/hpb-does-not-exist' }],
    ['an ipam plugin that does not exist', 7, () => ({ ...good(), ipam: { type: 'no-such-ipam' } }), {}],
  ])('%s → code %i, nothing created', async (_n, code, body, over) => {
    const r = await runPlugin('ADD', body(), { ...call, netns: ns, ...over });
    expect(r.code).toBe(1);
    expect(r.out).toMatchObject({ code });
    expect(typeof r.out!.msg).toBe('string');
    expect(r.out!.cniVersion).toBeTypeOf('string');
    // stdout holds exactly one JSON document; logs went to stderr.
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    nothingLeft();
  });
  it('a missing CNI_COMMAND is code 4', async () => {
    const r = await runPlugin('', good(), { ...call, netns: ns });
    expect(r.out).toMatchObject({ code: 4 });
  });
  it('logs are pino-style JSON on stderr, never stdout', async () => {
    const r = await runPlugin('ADD', { ...good(), cniVersion: '9.9.9' }, { ...call, netns: ns });
    const line = JSON.parse(r.stderr.trim().split('\n').pop()!);
    expect(line).toMatchObject({ level: 50, name: 'hostplane-cni' });
    expect(r.stdout).not.toContain('"level"');
  });
});
