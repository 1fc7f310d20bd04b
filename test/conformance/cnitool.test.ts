// The real cnitool (libcni v1.3.0, checked from the binary's build info) drives hostplane as the first plugin of a
// conflist followed by the reference portmap and bandwidth plugins v1.10.0, at
// cniVersion 1.1.0 — in both modes of the executable: standalone (the work done
// in-process) and through the agent's CNI server (the executable forwards the
// request over the agent's socket). Same assertions for both; in agent mode the
// agent's own log proves it served the calls, and DEL's teardown is awaited
// (it runs in the background after DEL answered). libcni folds a plugin's
// error into a message without its code, so the plugin is reached through a
// recorder that keeps each reply, and the tests assert the spec's codes on
// what the plugin actually answered.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { writeFileSync, mkdtempSync, mkdirSync, rmSync, readdirSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { ensureBuilt, Sandbox, PLUGIN_DIR, REF_DIR, sh, ping } from '../integration/cni/helpers.ts';
import { AgentProcess, eventually } from '../integration/cni/agent-process.ts';
import { goModuleVersion } from '../support/tool-version.ts';
import { hostVethName } from '../../cni/net/veth.ts';
import { ids } from '../../cni/net/masq.ts';

const CACHE = '/var/lib/cni/results';
const CNITOOL = '/usr/local/bin/cnitool';

describe('the tools are the versions this suite is written against', () => {
  it('cnitool is libcni v1.3.0; the reference plugins are v1.10.0', () => {
    expect(goModuleVersion(CNITOOL, 'github.com/containernetworking/cni')).toBe('v1.3.0');
    for (const p of ['portmap', 'bandwidth']) expect(goModuleVersion(join(REF_DIR, p), 'github.com/containernetworking/plugins')).toBe('v1.10.0');
  });
});

describe.each(['standalone', 'agent'] as const)('cnitool, %s mode', (mode) => {
  const sb = new Sandbox(mode === 'agent' ? 'hpka' : 'hpks');
  const confDir = mkdtempSync(join(tmpdir(), 'hp-netconf-'));
  const bridge = sb.bridge();
  const chain = `${sb.tag}-chain`;
  const solo = `${sb.tag}-solo`;
  const port = 18000 + (process.pid % 1000) + (mode === 'agent' ? 1000 : 0);
  const caps = JSON.stringify({
    portMappings: [{ hostPort: port, containerPort: 80, protocol: 'tcp' }],
    bandwidth: { ingressRate: 8_000_000, ingressBurst: 800_000, egressRate: 8_000_000, egressBurst: 800_000 },
  });
  let agent: AgentProcess | undefined;
  // The recorder: runs the built plugin, keeps its stdout and exit code per call.
  const recDir = mkdtempSync(join(tmpdir(), 'hp-cnirec-'));
  const shimDir = join(recDir, 'bin');
  const replies = join(recDir, 'replies');

  function hostplane(ranges: object[][]) {
    return {
      type: 'hostplane',
      bridge,
      isGateway: true,
      isDefaultGateway: true,
      ipMasq: true,
      agentSocket: agent?.socket ?? '',
      capabilities: { ips: true, mac: true },
      ipam: { type: 'hostplane', ranges, dataDir: sb.dataDir },
    };
  }

  beforeAll(async () => {
    ensureBuilt();
    mkdirSync(shimDir);
    mkdirSync(replies);
    writeFileSync(
      join(shimDir, 'hostplane'),
      [
        '#!/bin/sh',
        `out=$(${JSON.stringify(join(PLUGIN_DIR, 'hostplane'))}); rc=$?`,
        `printf '%s' "$out" > "${replies}/$(date +%s%N)-$CNI_COMMAND-$rc.json"`,
        `printf '%s\\n' "$out"`,
        'exit $rc',
        '',
      ].join('\n'),
      { mode: 0o755 },
    );
    sb.nft(ids(chain).chain);
    sb.nft(ids(solo).chain);
    if (mode === 'agent') {
      agent = new AgentProcess({ ipamDirs: [sb.dataDir], bridge });
      await agent.start();
    }
    writeFileSync(
      join(confDir, '10-chain.conflist'),
      JSON.stringify({
        cniVersion: '1.1.0',
        name: chain,
        plugins: [
          hostplane([[{ subnet: '10.215.0.0/24' }], [{ subnet: 'fd15::/64' }]]),
          { type: 'portmap', capabilities: { portMappings: true }, snat: true },
          { type: 'bandwidth', capabilities: { bandwidth: true } },
        ],
      }),
    );
    // A two-address pool, so STATUS can be driven to "exhausted".
    writeFileSync(
      join(confDir, '20-solo.conflist'),
      JSON.stringify({
        cniVersion: '1.1.0',
        name: solo,
        plugins: [hostplane([[{ subnet: '10.216.0.0/24', rangeStart: '10.216.0.10', rangeEnd: '10.216.0.11' }]])],
      }),
    );
  });
  afterAll(async () => {
    await agent?.stop();
    for (const f of existsSync(CACHE) ? readdirSync(CACHE) : [])
      if (f.startsWith(`${chain}-`) || f.startsWith(`${solo}-`)) rmSync(join(CACHE, f), { force: true });
    sb.cleanup();
    rmSync(confDir, { recursive: true, force: true });
    rmSync(recDir, { recursive: true, force: true });
  });

  /** The plugin's last reply to `command`: its exit code and the JSON it printed. */
  function lastReply(command: string): { rc: number; out: { code?: number; msg?: string } } {
    const f = readdirSync(replies)
      .filter((n) => n.endsWith('.json') && n.split('-')[1] === command)
      .sort()
      .at(-1);
    if (!f) throw new Error(`no ${command} reply recorded`);
    return { rc: Number(f.split('-')[2]!.replace('.json', '')), out: JSON.parse(readFileSync(join(replies, f), 'utf8') || '{}') };
  }

  function cnitool(cmd: string, net: string, netns: string, extra: Record<string, string> = {}) {
    const r = spawnSync(CNITOOL, [cmd, net, netns], {
      encoding: 'utf8',
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', NETCONFPATH: confDir, CNI_PATH: `${shimDir}:${REF_DIR}`, ...extra },
    });
    // In agent mode nothing may have fallen back to in-process work.
    if (mode === 'agent') expect(r.stderr).not.toContain('running in-process');
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  }
  const leases = (net: string) => sb.leases(net);
  const cid = (netns: string) => {
    // cnitool's container id: "cnitool-" + the first 20 hex digits of sha512(netns path).
    const h = spawnSync('sha512sum', { input: netns, encoding: 'utf8' }).stdout.slice(0, 20);
    return `cnitool-${h}`;
  };
  const served = (cmd: string) => agent?.served(cmd).length ?? 0;
  /** The agent's log arrives through a pipe the synchronous cnitool calls kept us from reading: give it time. */
  const agentServed = async (cmd: string, atLeast: number) => {
    if (agent) await eventually(() => served(cmd) >= atLeast, 5000, `agent log shows ${atLeast} ${cmd}`);
  };

  describe('hostplane → portmap → bandwidth (cniVersion 1.1.0)', () => {
    it("add returns hostplane's interfaces and IPs plus the chained plugins' additions; the pod reaches the gateway", async () => {
      const ns = sb.netns('a');
      const before = served('ADD');
      const r = cnitool('add', chain, ns, { CAP_ARGS: caps });
      expect(r.code, r.stderr + r.stdout).toBe(0);
      await agentServed('ADD', before + 1);
      const res = JSON.parse(r.stdout);
      expect(res.cniVersion).toBe('1.1.0');
      expect(res.interfaces[2]).toMatchObject({ name: 'eth0', sandbox: ns, mtu: 1500 });
      expect(res.ips[0].address).toMatch(/^10\.215\.0\.\d+\/24$/);
      expect(res.ips[1].address).toMatch(/^fd15::[0-9a-f:]+\/64$/);
      expect(ping(ns, '10.215.0.1')).toBe(true);
      expect(ping(ns, 'fd15::1')).toBe(true);
      const veth = hostVethName(cid(ns), 'eth0');
      expect(res.interfaces[1].name).toBe(veth);
      // bandwidth shaped our host veth, portmap wrote its DNAT rules.
      expect(sh('tc', ['qdisc', 'show', 'dev', veth]).stdout).toContain('tbf');
      expect(sh('iptables-save', []).stdout + sh('nft', ['list', 'ruleset']).stdout).toContain(String(port));
    });
    it('check passes against the cached result, with every capability (portmap checks its rules)', () => {
      const r = cnitool('check', chain, `/var/run/netns/${sb.tag}-a`, { CAP_ARGS: caps });
      expect(r.code, r.stderr + r.stdout).toBe(0);
      expect(lastReply('CHECK').rc).toBe(0);
    });
    it('del removes veth, lease and masquerade entry (after the background teardown in agent mode); a second del succeeds', async () => {
      const ns = `/var/run/netns/${sb.tag}-a`;
      const veth = hostVethName(cid(ns), 'eth0');
      const d = cnitool('del', chain, ns, { CAP_ARGS: caps });
      expect(d.code, d.stderr + d.stdout).toBe(0);
      await eventually(() => !existsSync(`/sys/class/net/${veth}`) && leases(chain).length === 0, 10_000, 'veth and leases gone');
      expect(sh('nft', ['list', 'set', 'inet', 'hostplane', ids(chain).set4]).stdout).not.toMatch(/elements/);
      expect(cnitool('del', chain, ns, { CAP_ARGS: caps }).code).toBe(0);
      await agentServed('DEL', 2);
    });
    it('add again after del (same container id: it waits for the teardown of the previous veth) works', () => {
      const ns = `/var/run/netns/${sb.tag}-a`;
      const r = cnitool('add', chain, ns, { CAP_ARGS: caps });
      expect(r.code, r.stderr + r.stdout).toBe(0);
      const d = cnitool('del', chain, ns, { CAP_ARGS: caps });
      expect(d.code, d.stderr + d.stdout).toBe(0);
    });
  });

  describe('status and gc (cniVersion 1.1.0)', () => {
    it('status is ready while addresses remain and answers 50 when the pool is exhausted', async () => {
      const [n1, n2] = [sb.netns('s1'), sb.netns('s2')];
      expect(cnitool('status', solo, n1).code).toBe(0);
      expect(cnitool('add', solo, n1).code).toBe(0);
      expect(cnitool('status', solo, n1).code).toBe(0);
      expect(cnitool('add', solo, n2).code).toBe(0);
      const st = cnitool('status', solo, n1);
      expect(st.code).not.toBe(0);
      expect(st.stderr + st.stdout).toMatch(/exhausted/);
      // CNI 1.1.0: STATUS answers 50, "the plugin is not available" (pool exhausted).
      expect(lastReply('STATUS')).toMatchObject({ rc: 1, out: { code: 50, msg: expect.stringMatching(/exhausted/) } });
      // A third ADD fails with "try again later" and leaves nothing behind.
      const n3 = sb.netns('s3');
      const third = cnitool('add', solo, n3);
      expect(third.code).not.toBe(0);
      expect(lastReply('ADD')).toMatchObject({ rc: 1, out: { code: 11, msg: expect.stringMatching(/no free address/) } });
      expect(leases(solo)).toHaveLength(2);
      await agentServed('STATUS', 1);
    });
    it('check of a cached attachment passes at 1.1.0', () => {
      expect(cnitool('check', solo, `/var/run/netns/${sb.tag}-s1`).code).toBe(0);
    });
    it('gc DELs the cached attachments and GC leaves no lease, veth or masquerade entry — also for leaks DEL never saw', async () => {
      // A leak no cached result knows about: a lease and a host veth of a dead attachment.
      writeFileSync(join(sb.dataDir, solo, '10.216.0.99'), `ghost\r\neth0\r\n${readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()}`);
      const ghost = hostVethName(`ghost-${mode}`, 'eth0');
      sh('ip', ['link', 'add', ghost, 'type', 'veth', 'peer', 'name', `${ghost.slice(0, 12)}p`]);
      sh('ip', ['link', 'set', ghost, 'master', bridge]);
      const r = cnitool('gc', solo, `/var/run/netns/${sb.tag}-s1`);
      expect(r.code, r.stderr + r.stdout).toBe(0);
      await eventually(() => leases(solo).length === 0, 10_000, 'leases released');
      expect(existsSync(`/sys/class/net/${ghost}`)).toBe(false);
      expect(readdirSync(`/sys/class/net/${bridge}/brif`)).toEqual([]);
      expect(cnitool('status', solo, `/var/run/netns/${sb.tag}-s1`).code).toBe(0);
      await agentServed('GC', 1);
    });
  });
});
