// ADD/CHECK/DEL of the built plugin against the real kernel, in every supported spec version.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { SUPPORTED_VERSIONS } from '../../../cni/result.ts';
import { hostVethName } from '../../../cni/net/veth.ts';
import { ids } from '../../../cni/net/masq.ts';
import { ensureBuilt, runPlugin, Sandbox, ping, inNs, sh } from './helpers.ts';

const sb = new Sandbox('hpd');
const bridge = sb.bridge();
beforeAll(() => ensureBuilt());
afterAll(() => sb.cleanup());

const conf = (version: string, net: number, extra: Record<string, unknown> = {}) => ({
  cniVersion: version,
  name: `${sb.tag}-n${net}`,
  type: 'hostplane',
  bridge,
  isGateway: true,
  isDefaultGateway: true,
  mtu: 1400,
  ipam: { type: 'hostplane', ranges: [[{ subnet: `10.211.${net}.0/24` }], [{ subnet: `fd11:${net}::/64` }]], dataDir: sb.dataDir },
  ...extra,
});
const addrOf = (r: Record<string, unknown> | undefined, fam: 4 | 6) =>
  ((r?.ips ?? []) as { address: string }[]).map((i) => i.address.split('/')[0]!).find((a) => a.includes(':') === (fam === 6))!;
const leases = (net: string) => sb.leases(net);

describe.each(SUPPORTED_VERSIONS.map((v, i) => ({ v, i })))('ADD / CHECK / DEL at cniVersion $v', ({ v, i }) => {
  it('two pods get dual-stack addresses, reach each other and the gateway, and DEL removes everything', async () => {
    const c = conf(v, i);
    const [ns1, ns2] = [sb.netns(`${i}a`), sb.netns(`${i}b`)];
    const a = await runPlugin('ADD', c, { containerId: `${sb.tag}-${i}-a`, netns: ns1 });
    const b = await runPlugin('ADD', c, { containerId: `${sb.tag}-${i}-b`, netns: ns2 });
    expect(a.code, a.stdout + a.stderr).toBe(0);
    expect(b.code, b.stdout + b.stderr).toBe(0);
    expect(a.out!.cniVersion).toBe(v);
    expect(ping(ns1, addrOf(b.out, 4))).toBe(true);
    expect(ping(ns1, `10.211.${i}.1`)).toBe(true);
    expect(ping(ns2, addrOf(a.out, 6))).toBe(true);
    expect(ping(ns2, `fd11:${i}::1`)).toBe(true);
    if (v !== '0.3.0' && v !== '0.3.1') {
      const chk = await runPlugin('CHECK', { ...c, prevResult: a.out }, { containerId: `${sb.tag}-${i}-a`, netns: ns1 });
      expect(chk.code, chk.stdout).toBe(0);
    }
    for (const [id, ns] of [
      [`${sb.tag}-${i}-a`, ns1],
      [`${sb.tag}-${i}-b`, ns2],
    ] as const) {
      const d = await runPlugin('DEL', { ...c, prevResult: a.out }, { containerId: id, netns: ns });
      expect(d.code, d.stdout).toBe(0);
      expect(existsSync(`/sys/class/net/${hostVethName(id, 'eth0')}`)).toBe(false);
    }
    expect(leases(c.name)).toEqual([]);
    expect(inNs(ns1, 'ip', ['link', 'show', 'eth0']).code).not.toBe(0);
  });
});

describe('datapath details', () => {
  it('MTU, hairpin on by default, container MAC 0a:58 + IPv4, default routes via the gateway', async () => {
    const c = conf('1.1.0', 10);
    const ns = sb.netns('d');
    const id = `${sb.tag}-d`;
    const r = await runPlugin('ADD', c, { containerId: id, netns: ns });
    expect(r.code, r.stdout).toBe(0);
    const veth = hostVethName(id, 'eth0');
    expect(readFileSync(`/sys/class/net/${veth}/brport/hairpin_mode`, 'utf8').trim()).toBe('1');
    expect(readFileSync(`/sys/class/net/${veth}/mtu`, 'utf8').trim()).toBe('1400');
    const link = JSON.parse(inNs(ns, 'ip', ['-json', 'link', 'show', 'eth0']).stdout)[0];
    expect(link.mtu).toBe(1400);
    const v4 = addrOf(r.out, 4)
      .split('.')
      .map((x) => Number(x).toString(16).padStart(2, '0'))
      .join(':');
    expect(link.address).toBe(`0a:58:${v4}`);
    expect(inNs(ns, 'ip', ['route', 'show', 'default']).stdout).toContain('via 10.211.10.1');
    expect(inNs(ns, 'ip', ['-6', 'route', 'show', 'default']).stdout).toContain('via fd11:10::1');
    expect((await runPlugin('DEL', c, { containerId: id, netns: ns })).code).toBe(0);
  });

  it("ipMasq puts the pod addresses in the network's nft set and DEL takes them out", async () => {
    const c = conf('1.1.0', 11, { ipMasq: true });
    sb.nft(ids(c.name).chain);
    const ns = sb.netns('m');
    const id = `${sb.tag}-m`;
    const r = await runPlugin('ADD', c, { containerId: id, netns: ns });
    expect(r.code, r.stdout).toBe(0);
    const set4 = () => sh('nft', ['list', 'set', 'inet', 'hostplane', ids(c.name).set4]).stdout;
    expect(set4()).toContain(addrOf(r.out, 4));
    expect(sh('nft', ['list', 'chain', 'inet', 'hostplane', ids(c.name).chain]).stdout).toContain('masquerade');
    expect((await runPlugin('DEL', c, { containerId: id, netns: ns })).code).toBe(0);
    expect(set4()).not.toContain(addrOf(r.out, 4));
  });

  it('DEL is idempotent: twice, with the netns gone, with the links already gone — and releases the lease', async () => {
    const c = conf('1.1.0', 12);
    const id = `${sb.tag}-i`;
    const ns = sb.netns('i');
    expect((await runPlugin('ADD', c, { containerId: id, netns: ns })).code).toBe(0);
    sh('ip', ['link', 'del', hostVethName(id, 'eth0')]);
    sh('ip', ['netns', 'del', ns.split('/').pop()!]);
    expect((await runPlugin('DEL', c, { containerId: id, netns: ns })).code).toBe(0);
    expect(leases(c.name)).toEqual([]);
    expect((await runPlugin('DEL', c, { containerId: id, netns: ns })).code).toBe(0);
    expect((await runPlugin('DEL', c, { containerId: id })).code).toBe(0);
  });

  it('CHECK notices a missing address (code 100) and a missing interface', async () => {
    const c = conf('1.1.0', 13);
    const id = `${sb.tag}-c`;
    const ns = sb.netns('c');
    const r = await runPlugin('ADD', c, { containerId: id, netns: ns });
    const v4 = (r.out!.ips as { address: string }[])[0]!.address;
    inNs(ns, 'ip', ['addr', 'del', v4, 'dev', 'eth0']);
    const chk = await runPlugin('CHECK', { ...c, prevResult: r.out }, { containerId: id, netns: ns });
    expect(chk.out).toMatchObject({ code: 100 });
    expect(String(chk.out!.msg)).toContain(v4);
    sh('ip', ['link', 'del', hostVethName(id, 'eth0')]);
    const gone = await runPlugin('CHECK', { ...c, prevResult: r.out }, { containerId: id, netns: ns });
    expect(gone.code).not.toBe(0);
    expect((await runPlugin('DEL', c, { containerId: id, netns: ns })).code).toBe(0);
  });

  it('any other ipam.type is delegated: host-local from CNI_PATH allocates on ADD and releases on DEL', async () => {
    const hlDir = join(sb.dataDir, 'host-local');
    const c = { ...conf('1.0.0', 15), ipam: { type: 'host-local', ranges: [[{ subnet: '10.211.15.0/24' }]], dataDir: hlDir } };
    const ns = sb.netns('h');
    const id = `${sb.tag}-h`;
    const r = await runPlugin('ADD', c, { containerId: id, netns: ns });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const addr = addrOf(r.out, 4);
    expect(readdirSync(join(hlDir, c.name))).toContain(addr);
    expect(ping(ns, '10.211.15.1')).toBe(true);
    const chk = await runPlugin('CHECK', { ...c, prevResult: r.out }, { containerId: id, netns: ns });
    expect(chk.code, chk.stdout).toBe(0);
    expect((await runPlugin('DEL', { ...c, prevResult: r.out }, { containerId: id, netns: ns })).code).toBe(0);
    expect(readdirSync(join(hlDir, c.name))).not.toContain(addr);
  });

  it('a netns path outside /run/netns works (nsenter path), e.g. /proc/PID/ns/net', async () => {
    const c = conf('1.1.0', 14);
    const ns = sb.netns('p');
    // Hold the namespace open through a process and address it by its /proc path.
    const { spawn } = await import('node:child_process');
    const holder = spawn('nsenter', [`--net=${ns}`, '--', 'sleep', '60'], { stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 200));
      // nsenter execs sleep in place, so the holder's pid is the sleeper's.
      const nsPath = `/proc/${holder.pid}/ns/net`;
      const r = await runPlugin('ADD', c, { containerId: `${sb.tag}-p`, netns: nsPath });
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(inNs(ns, 'ip', ['-br', 'addr', 'show', 'eth0']).stdout).toContain(addrOf(r.out, 4));
      expect((await runPlugin('DEL', c, { containerId: `${sb.tag}-p`, netns: nsPath })).code).toBe(0);
    } finally {
      holder.kill('SIGKILL');
    }
  });
});
