import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { mkdtempSync, rmSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { FakeExec, type RecordedCall } from '../../support/fake-exec.ts';
import { FakeHostView } from '../../support/fake-host-view.ts';
import { dispatch } from '../../../cni/dispatch.ts';
import { hostVethName } from '../../../cni/net/veth.ts';
import { IpRoute } from '../../../cni/net/ip-link.ts';

let dir: string;
let view: FakeHostView;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hp-cmd-'));
  view = new FakeHostView();
  view.netns.add('/run/netns/pod1');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const conf = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    cniVersion: '1.1.0',
    name: 'unit',
    type: 'hostplane',
    bridge: 'hpu0',
    isDefaultGateway: true,
    mtu: 1400,
    ipam: { type: 'hostplane', ranges: [[{ subnet: '10.5.0.0/24' }], [{ subnet: 'fd05::/64' }]], dataDir: dir },
    ...extra,
  });
const env = (cmd: string, extra: Record<string, string> = {}) => ({
  CNI_COMMAND: cmd,
  CNI_CONTAINERID: 'ctr1',
  CNI_NETNS: '/run/netns/pod1',
  CNI_IFNAME: 'eth0',
  CNI_PATH: '/nonexistent',
  ...extra,
});
const leases = () => readdirSync(join(dir, 'unit')).filter((f) => !f.startsWith('.'));

async function run(cmd: string, exec: FakeExec, stdin = conf(), e: Record<string, string> = {}) {
  return dispatch(env(cmd, e), Buffer.from(stdin), () => ({ exec, view, env: {}, ip: new IpRoute(exec) }), { logSink: () => {} });
}
const input = (c: RecordedCall) => String(c.opts.input ?? '');

describe('ADD (fake kernel)', () => {
  it('builds the datapath in two ip execs: host batch (bridge, veth into the netns, hairpin, up) and netns batch', async () => {
    const exec = new FakeExec();
    const r = await run('ADD', exec);
    expect(r.exitCode).toBe(0);
    expect(exec.calls).toHaveLength(2);
    const [host, inner] = exec.calls as [RecordedCall, RecordedCall];
    expect(host.args).toEqual(['-batch', '-']);
    const veth = hostVethName('ctr1', 'eth0');
    expect(input(host)).toContain('link add name hpu0 mtu 1400 address');
    expect(input(host)).toContain('addr replace 10.5.0.1/24 dev hpu0');
    expect(input(host)).toContain('addr replace fd05::1/64 dev hpu0 nodad');
    expect(input(host)).toContain(`link add name ${veth} mtu 1400 master hpu0 type veth peer name eth0 address 0a:58:0a:05:`);
    expect(input(host)).toContain('netns /run/netns/pod1');
    expect(input(host)).toContain(`link set dev ${veth} type bridge_slave hairpin on`);
    expect(inner.args).toEqual(['-n', 'pod1', '-batch', '-']);
    expect(input(inner)).toMatch(/addr add fd05::[0-9a-f:]+\/64 dev eth0 nodad/);
    expect(input(inner)).toContain('route add 0.0.0.0/0 via 10.5.0.1 dev eth0');
    expect(input(inner)).toContain('route add ::/0 via fd05::1 dev eth0');
    const out = r.stdout as { ips: { address: string; interface: number }[]; interfaces: { name: string; sandbox?: string }[] };
    expect(out.ips).toHaveLength(2);
    expect(out.interfaces[2]).toMatchObject({ name: 'eth0', sandbox: '/run/netns/pod1' });
    expect(leases()).toHaveLength(2);
  });
  it('an existing bridge is not re-created', async () => {
    view.links.set('hpu0', { mac: '02:00:00:00:00:01', bridge: true });
    const exec = new FakeExec();
    await run('ADD', exec);
    expect(input(exec.calls[0]!)).not.toContain('type bridge\n');
  });
  it('a bridge created by a parallel ADD in the meantime ("File exists") is retried without the create', async () => {
    let n = 0;
    const exec = new FakeExec((_c) => {
      if (n++ === 0) {
        view.links.set('hpu0', { mac: '02:00:00:00:00:01', bridge: true });
        return { exitCode: 2, stderr: 'RTNETLINK answers: File exists' };
      }
      return undefined;
    });
    expect((await run('ADD', exec)).exitCode).toBe(0);
    expect(input(exec.calls[1]!)).not.toContain('type bridge\n');
  });
  it('a failure in the netns rolls back: veth deleted, leases released, error code 5', async () => {
    const exec = new FakeExec((c) => (c.args.includes('-n') ? { exitCode: 2, stderr: 'RTNETLINK answers: Invalid argument' } : undefined));
    const r = await run('ADD', exec);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatchObject({ code: 5 });
    expect(input(exec.calls[exec.calls.length - 1]!)).toBe(`link del dev ${hostVethName('ctr1', 'eth0')}\n`);
    expect(leases()).toHaveLength(0);
  });
  it("a netns that does not exist → code 3, nothing exec'd, no lease", async () => {
    const exec = new FakeExec();
    const r = await run('ADD', exec, conf(), { CNI_NETNS: '/run/netns/nope' });
    expect(r.stdout).toMatchObject({ code: 3 });
    expect(exec.calls).toHaveLength(0);
    expect(readdirSync(dir)).toHaveLength(0);
  });
  it("ipMasq adds the pod addresses to the network's nft set in one transaction", async () => {
    const exec = new FakeExec();
    await run('ADD', exec, conf({ ipMasq: true }));
    const nft = exec.calls.find((c) => c.file === 'nft')!;
    expect(nft.args).toEqual(['-f', '-']);
    expect(input(nft)).toMatch(/add element inet hostplane n[0-9a-f]{12}_4 \{ 10\.5\.0\.\d+ \}/);
    expect(input(nft)).toContain('masquerade');
  });
  it('the ips capability and CNI_ARGS MAC pick the address and MAC', async () => {
    const exec = new FakeExec();
    const r = await run('ADD', exec, conf({ runtimeConfig: { ips: ['10.5.0.77/24'] } }), { CNI_ARGS: 'IgnoreUnknown=1;MAC=02:11:22:33:44:55' });
    const out = r.stdout as { ips: { address: string }[]; interfaces: { mac?: string }[] };
    expect(out.ips[0]!.address).toBe('10.5.0.77/24');
    expect(out.interfaces[2]!.mac).toBe('02:11:22:33:44:55');
  });
  it("answers in the config's version (0.3.1 results carry ips[].version)", async () => {
    const r = await run('ADD', new FakeExec(), conf({ cniVersion: '0.3.1' }));
    expect(r.stdout).toMatchObject({ cniVersion: '0.3.1', ips: [{ version: '4' }, { version: '6' }] });
  });
});

describe('DEL (fake kernel)', () => {
  it('deletes the host veth and releases the leases; a second DEL succeeds and execs nothing', async () => {
    await run('ADD', new FakeExec());
    view.links.set(hostVethName('ctr1', 'eth0'), { mac: '02:00:00:00:00:02', master: 'hpu0' });
    const exec = new FakeExec(() => {
      view.links.delete(hostVethName('ctr1', 'eth0'));
      return undefined;
    });
    expect((await run('DEL', exec)).exitCode).toBe(0);
    expect(exec.calls).toHaveLength(1);
    expect(leases()).toHaveLength(0);
    const again = new FakeExec();
    expect((await run('DEL', again, conf(), { CNI_NETNS: '' })).exitCode).toBe(0);
    expect(again.calls).toHaveLength(0);
  });
});

describe('STATUS, CHECK, GC, VERSION (dispatch)', () => {
  it('STATUS execs nothing and answers 50 when the pool is exhausted', async () => {
    const exec = new FakeExec();
    const tiny = conf({ ipam: { type: 'hostplane', subnet: '10.6.0.0/30', dataDir: dir } });
    expect((await run('STATUS', exec, tiny)).exitCode).toBe(0);
    await run('ADD', new FakeExec(), tiny);
    const r = await run('STATUS', exec, tiny);
    expect(r.stdout).toMatchObject({ code: 50 });
    expect(exec.calls).toHaveLength(0);
  });
  it.each([
    ['CHECK', '0.3.1'],
    ['STATUS', '1.0.0'],
    ['GC', '0.4.0'],
  ])('%s with a %s config → code 1', async (cmd, v) => {
    expect((await run(cmd, new FakeExec(), conf({ cniVersion: v }))).stdout).toMatchObject({ code: 1 });
  });
  it('GC without valid-attachments (libcni omits an empty list) releases every lease', async () => {
    await run('ADD', new FakeExec());
    expect((await run('GC', new FakeExec())).exitCode).toBe(0);
    expect(leases()).toHaveLength(0);
  });
  it('GC releases leases and deletes host veths of attachments not listed', async () => {
    await run('ADD', new FakeExec());
    await run('ADD', new FakeExec(), conf(), { CNI_CONTAINERID: 'ctr2' });
    view.links.set(hostVethName('ctr1', 'eth0'), { mac: 'x', master: 'hpu0' });
    view.links.set(hostVethName('ctr2', 'eth0'), { mac: 'x', master: 'hpu0' });
    view.links.set('vethforeign', { mac: 'x', master: 'hpu0' });
    const exec = new FakeExec();
    const r = await run('GC', exec, conf({ 'cni.dev/valid-attachments': [{ containerID: 'ctr2', ifname: 'eth0' }] }));
    expect(r.exitCode).toBe(0);
    expect(leases()).toHaveLength(2);
    expect(exec.calls).toHaveLength(1);
    expect(input(exec.calls[0]!)).toBe(`link del dev ${hostVethName('ctr1', 'eth0')}\n`);
  });
  it('CHECK needs a prevResult (7)', async () => {
    expect((await run('CHECK', new FakeExec())).stdout).toMatchObject({ code: 7 });
  });
  it('VERSION lists the supported versions in the asked version', async () => {
    expect((await run('VERSION', new FakeExec(), '{"cniVersion":"0.4.0"}')).stdout).toEqual({
      cniVersion: '0.4.0',
      supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'],
    });
  });
});
