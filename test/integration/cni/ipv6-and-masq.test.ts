// IPv6-only pod networks end to end, and masquerade proven with real packets.
// The plugin runs inside a throwaway "node" netns (`ip netns exec`), so its
// bridge, nft table and forwarding sysctls touch only that namespace; a
// "remote" netns hangs off the node by a veth, standing for anything outside
// the pod network. The node netns has no default route: nothing leaves it.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { validateConfig } from '../../../agent/config.ts';
import { buildConflist } from '../../../agent/cni/conflist.ts';
import { hostVethName } from '../../../cni/net/veth.ts';
import { ids, TABLE } from '../../../cni/net/masq.ts';
import { ensureBuilt, cniEnv, PLUGIN, Sandbox, sh, inNs, runExecutable, type PluginRun } from './helpers.ts';

const sb = new Sandbox('hp6');
const NODE = `${sb.tag}-node`;
const REMOTE = `${sb.tag}-remote`;
const bridge = sb.bridge();
const uplink = `${sb.tag}up`.slice(0, 15);
let remoteNs = '';

const must = (cmd: string, args: string[]) => {
  const r = sh(cmd, args);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};

beforeAll(() => {
  ensureBuilt();
  sb.netns('node');
  remoteNs = sb.netns('remote');
  // node <-> remote: 10.218.99.0/24 and fd29:99::/64; nodad: usable at once.
  must('ip', ['-n', NODE, 'link', 'add', uplink, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', REMOTE]);
  must('ip', ['-n', NODE, 'addr', 'add', '10.218.99.1/24', 'dev', uplink]);
  must('ip', ['-n', NODE, 'addr', 'add', 'fd29:99::1/64', 'dev', uplink, 'nodad']);
  must('ip', ['-n', NODE, 'link', 'set', uplink, 'up']);
  must('ip', ['-n', REMOTE, 'addr', 'add', '10.218.99.2/24', 'dev', 'eth0']);
  must('ip', ['-n', REMOTE, 'addr', 'add', 'fd29:99::2/64', 'dev', 'eth0', 'nodad']);
  must('ip', ['-n', REMOTE, 'link', 'set', 'eth0', 'up']);
  must('ip', ['-n', NODE, 'link', 'set', 'lo', 'up']);
});
afterAll(() => sb.cleanup()); // the node netns takes its bridge, veths and nft table with it

/** The built plugin, run inside the node netns with only CNI_* in its environment. */
function runInNode(cmd: string, conf: object, containerId: string, netns: string): Promise<PluginRun> {
  return runExecutable('/usr/sbin/ip', ['netns', 'exec', NODE, PLUGIN], cniEnv(cmd, { containerId, netns }), conf);
}

/**
 * Send one UDP datagram from `fromNs` to `to` and return the source address
 * the receiver in `toNs` saw: the translated source, after any masquerade.
 */
async function seenSource(fromNs: string, toNs: string, to: string, port: number): Promise<string> {
  const family = to.includes(':') ? 'AF_INET6' : 'AF_INET';
  const any = to.includes(':') ? '::' : '0.0.0.0';
  const receiver = spawn(
    'nsenter',
    [
      `--net=${toNs}`,
      '--',
      'python3',
      '-c',
      `import socket,sys\ns=socket.socket(socket.${family},socket.SOCK_DGRAM)\ns.bind(('${any}',${port}))\nprint('ready',flush=True)\ns.settimeout(10)\nd,a=s.recvfrom(64)\nprint(a[0],flush=True)`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  const done = new Promise<string>((resolve, reject) => {
    receiver.stdout.on('data', (d) => {
      out += d;
    });
    receiver.on('close', (code) => (code === 0 ? resolve(out.split('\n')[1]!.trim()) : reject(new Error(`receiver exited ${code}: ${out}`))));
  });
  while (!out.includes('ready')) await new Promise((r) => setTimeout(r, 20));
  const sent = inNs(fromNs, 'python3', ['-c', `import socket\nsocket.socket(socket.${family},socket.SOCK_DGRAM).sendto(b'hp',('${to}',${port}))`]);
  if (sent.code !== 0) {
    receiver.kill();
    throw new Error(`send failed: ${sent.stderr}`);
  }
  return done;
}

const addr = (r: PluginRun, fam: 4 | 6) =>
  ((r.out?.ips ?? []) as { address: string }[]).map((i) => i.address.split('/')[0]!).find((a) => a.includes(':') === (fam === 6));
const leases = (net: string) => sb.leases(net);

describe("IPv6-only pod network (the agent's conflist)", () => {
  // The hostplane plugin exactly as the agent writes it for an IPv6-only node.
  const cfg = validateConfig(
    {
      nodeName: 'v6-node',
      cni: { podCIDRs: ['fd28:7::/64'], bridge, networkName: `${sb.tag}-v6`, ipamDataDir: sb.dataDir, cniVersion: '1.1.0' },
      csi: { enabled: false },
      devicePlugin: { enabled: false },
    },
    'test',
    {},
    '/opt/hostplane',
  );
  const list = JSON.parse(buildConflist(cfg.cni, cfg.cni.podCIDRs));
  const conf = { cniVersion: list.cniVersion, name: list.name, ...list.plugins[0] };

  it('the conflist has one IPv6 range set and masquerade on', () => {
    expect(list.plugins[0].ipam.ranges).toEqual([[{ subnet: 'fd28:7::/64' }]]);
    expect(list.plugins[0].ipMasq).toBe(true);
  });

  it('ADD gives two pods IPv6 only, they reach each other and the gateway; CHECK passes; DEL removes everything', async () => {
    const [ns1, ns2] = [sb.netns('6a'), sb.netns('6b')];
    const a = await runInNode('ADD', conf, `${sb.tag}-6a`, ns1);
    const b = await runInNode('ADD', conf, `${sb.tag}-6b`, ns2);
    expect(a.code, a.stdout + a.stderr).toBe(0);
    expect(b.code, b.stdout + b.stderr).toBe(0);
    expect(addr(a, 4)).toBeUndefined();
    expect(addr(a, 6)).toMatch(/^fd28:7::/);
    expect(inNs(ns1, 'ip', ['-6', 'route', 'show', 'default']).stdout).toContain('via fd28:7::1');
    expect(inNs(ns1, 'ping', ['-6', '-c', '1', '-W', '2', addr(b, 6)!]).code).toBe(0);
    expect(inNs(ns2, 'ping', ['-6', '-c', '1', '-W', '2', 'fd28:7::1']).code).toBe(0);
    const chk = await runInNode('CHECK', { ...conf, prevResult: a.out }, `${sb.tag}-6a`, ns1);
    expect(chk.code, chk.stdout).toBe(0);
    // Masquerade rule: IPv6 only, the pods in the network's v6 set.
    const chain = must('ip', ['netns', 'exec', NODE, 'nft', 'list', 'chain', ...TABLE.split(' '), ids(conf.name).chain]);
    expect(chain).toMatch(/ip6 saddr @\w+_6 ip6 daddr != fd28:7::\/64 .*masquerade/);
    expect(chain).not.toMatch(/\bip saddr/);
    for (const [id, ns] of [
      [`${sb.tag}-6a`, ns1],
      [`${sb.tag}-6b`, ns2],
    ] as const) {
      const d = await runInNode('DEL', { ...conf, prevResult: a.out }, id, ns);
      expect(d.code, d.stdout).toBe(0);
      expect(sh('ip', ['-n', NODE, 'link', 'show', hostVethName(id, 'eth0')]).code).not.toBe(0);
    }
    expect(leases(conf.name)).toEqual([]);
    expect(must('ip', ['netns', 'exec', NODE, 'nft', 'list', 'set', ...TABLE.split(' '), ids(conf.name).set6])).not.toMatch(/elements/);
  });
});

describe('masquerade with real packets', () => {
  const conf = {
    cniVersion: '1.1.0',
    name: `${sb.tag}-mq`,
    type: 'hostplane',
    bridge,
    isGateway: true,
    isDefaultGateway: true,
    ipMasq: true,
    ipam: { type: 'hostplane', ranges: [[{ subnet: '10.218.5.0/24' }], [{ subnet: 'fd28:5::/64' }]], dataDir: sb.dataDir },
  };

  it("a pod's packets to outside its network leave with the node's address (IPv4 and IPv6); pod-to-pod keeps the pod's", async () => {
    const [ns1, ns2] = [sb.netns('ma'), sb.netns('mb')];
    const a = await runInNode('ADD', conf, `${sb.tag}-ma`, ns1);
    const b = await runInNode('ADD', conf, `${sb.tag}-mb`, ns2);
    expect(a.code, a.stdout + a.stderr).toBe(0);
    expect(b.code, b.stdout + b.stderr).toBe(0);
    const port = 20000 + (process.pid % 10000);
    // Out of the pod network: source translated to the node's uplink address.
    expect(await seenSource(ns1, remoteNs, '10.218.99.2', port)).toBe('10.218.99.1');
    expect(await seenSource(ns1, remoteNs, 'fd29:99::2', port)).toBe('fd29:99::1');
    // Inside it: untouched.
    expect(await seenSource(ns1, ns2, addr(b, 4)!, port)).toBe(addr(a, 4));
    expect(await seenSource(ns1, ns2, addr(b, 6)!, port)).toBe(addr(a, 6));
    // After DEL the pod's address leaves the set: a new holder of it would not be masqueraded by accident.
    for (const [id, ns] of [
      [`${sb.tag}-ma`, ns1],
      [`${sb.tag}-mb`, ns2],
    ] as const)
      expect((await runInNode('DEL', conf, id, ns)).code).toBe(0);
    expect(must('ip', ['netns', 'exec', NODE, 'nft', 'list', 'set', ...TABLE.split(' '), ids(conf.name).set4])).not.toMatch(/elements/);
  });
});
