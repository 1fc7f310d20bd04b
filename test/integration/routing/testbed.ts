// Real multi-node networking on one machine. Every "node" is a network
// namespace with its own underlay interface (eth0) plugged into a bridge of a
// shared "switch" namespace, its own pod bridge and pods (further namespaces,
// attached by the built dist/cni/hostplane run inside the node namespace), and
// its own agent (dist/hostplane agent, routing on, run inside the namespace).
// Two underlay subnets, A and B, are joined by a router namespace. The Node
// objects come from the fake API server running as a process in the switch
// namespace, reachable by every node on 10.99.1.254.
//
// Nothing here touches the root namespace's interfaces or routes: every
// namespace has no default route, and every name carries the bed's random tag.
// cleanup() removes everything, whatever state a failed test left.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync, openSync, closeSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { ROUTE_PROTOCOL } from '../../../agent/routing/desired.ts';

export const ROOT = join(import.meta.dirname, '..', '..', '..');
const NODE = join(ROOT, 'node_modules', '.bin', 'node');
export const PLUGIN = join(ROOT, 'dist', 'cni', 'hostplane');
export const AGENT = join(ROOT, 'dist', 'hostplane');
const PROBE = join(import.meta.dirname, 'tcp-probe.ts');

export type Subnet = 'A' | 'B';
export type Mode = 'auto' | 'host-gw' | 'vxlan';

export function sh(cmd: string, args: string[], input?: string): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input, timeout: 30_000 });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}
function must(cmd: string, args: string[], input?: string): string {
  const r = sh(cmd, args, input);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr || r.stdout}`);
  return r.stdout;
}

export function ensureBuilt(): void {
  if (!existsSync(PLUGIN) || !existsSync(AGENT)) must(NODE, [join(ROOT, 'scripts', 'build.ts')]);
}

const SUBNET: Record<Subnet, { v4: string; v6: string; router4: string; router6: string }> = {
  A: { v4: '10.99.1', v6: 'fd10:99:1::', router4: '10.99.1.1', router6: 'fd10:99:1::1' },
  B: { v4: '10.99.2', v6: 'fd10:99:2::', router4: '10.99.2.1', router6: 'fd10:99:2::1' },
};
export const API_HOST = '10.99.1.254';
/** Everything a pod may reach: the cluster's pod CIDRs, the underlay, and the "outside" net behind the router. */
const POD_ROUTES = ['10.240.0.0/16', 'fd00:240::/32', '10.99.0.0/16', 'fd10:99::/32', '10.98.0.0/24'];
export const OUTSIDE = '10.98.0.2';

export interface BedNode {
  index: number;
  name: string;
  ns: string;
  subnet: Subnet;
  mode: Mode;
  v4: string;
  v6: string;
  podCIDR4: string;
  podCIDR6: string;
  agent?: ChildProcess;
  agentLog: string;
  pods: Pod[];
}
export interface Pod {
  ns: string;
  node: BedNode;
  v4: string;
  v6: string;
}

export class TestBed {
  readonly tag = `hr${randomBytes(3).toString('hex')}`;
  readonly dir = mkdtempSync(join(tmpdir(), 'hp-routing-'));
  readonly sw = `${this.tag}-sw`;
  readonly rt = `${this.tag}-rt`;
  readonly ext = `${this.tag}-ext`;
  readonly nodes = new Map<number, BedNode>();
  private readonly namespaces: string[] = [];
  private readonly procs = new Set<ChildProcess>();
  private api?: { proc: ChildProcess; url: string; caFile: string; tokenFile: string; control: string };

  private netns(name: string): string {
    must('ip', ['netns', 'add', name]);
    this.namespaces.push(name);
    must('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    return name;
  }

  /** The switch (two bridges), the router between them, the "outside" host, and the API server. */
  async start(): Promise<void> {
    this.netns(this.sw);
    this.netns(this.rt);
    this.netns(this.ext);
    const ipsw = (...a: string[]) => must('ip', ['-n', this.sw, ...a]);
    for (const br of ['bra', 'brb']) {
      ipsw('link', 'add', br, 'type', 'bridge');
      ipsw('link', 'set', br, 'up');
    }
    ipsw('addr', 'add', `${API_HOST}/24`, 'dev', 'bra');
    ipsw('route', 'add', '10.99.2.0/24', 'via', SUBNET.A.router4);
    for (const [s, br] of [
      ['A', 'bra'],
      ['B', 'brb'],
    ] as const) {
      must('ip', ['-n', this.sw, 'link', 'add', `rt${s}`, 'type', 'veth', 'peer', 'name', `eth${s}`, 'netns', this.rt]);
      ipsw('link', 'set', `rt${s}`, 'master', br, 'up');
      must('ip', ['-n', this.rt, 'addr', 'add', `${SUBNET[s].router4}/24`, 'dev', `eth${s}`]);
      must('ip', ['-n', this.rt, 'addr', 'add', `${SUBNET[s].router6}/64`, 'dev', `eth${s}`, 'nodad']);
      must('ip', ['-n', this.rt, 'link', 'set', `eth${s}`, 'up']);
    }
    must('ip', ['-n', this.rt, 'link', 'add', 'ext', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', this.ext]);
    must('ip', ['-n', this.rt, 'addr', 'add', '10.98.0.1/24', 'dev', 'ext']);
    must('ip', ['-n', this.rt, 'link', 'set', 'ext', 'up']);
    must('ip', ['-n', this.ext, 'addr', 'add', `${OUTSIDE}/24`, 'dev', 'eth0']);
    must('ip', ['-n', this.ext, 'link', 'set', 'eth0', 'up']);
    // The outside host knows only the underlay: pod addresses reach it only masqueraded.
    must('ip', ['-n', this.ext, 'route', 'add', '10.99.0.0/16', 'via', '10.98.0.1']);
    for (const k of ['net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']) must('ip', ['netns', 'exec', this.rt, 'sysctl', '-qw', k]);

    const control = join(this.dir, 'api.sock');
    const proc = spawn(
      'ip',
      [
        'netns',
        'exec',
        this.sw,
        NODE,
        join(ROOT, 'test', 'support', 'fake-apiserver-main.ts'),
        '--host',
        API_HOST,
        '--port',
        '6443',
        '--dir',
        this.dir,
        '--control',
        control,
        '--bookmarkMs',
        '1000',
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    this.procs.add(proc);
    const first = await new Promise<string>((resolve, reject) => {
      const rl = createInterface(proc.stdout!);
      rl.once('line', resolve);
      proc.once('exit', (c) => reject(new Error(`fake apiserver exited ${c}`)));
    });
    const info = JSON.parse(first) as { url: string; caFile: string; tokenFile: string };
    this.api = { proc, control, ...info };
  }

  /** A node namespace on underlay subnet `subnet`, with its pod bridge's pod CIDRs 10.240.i.0/24 and fd00:240:i::/64. */
  addNode(index: number, subnet: Subnet, mode: Mode = 'auto', podMtu = 1500): BedNode {
    const ns = this.netns(`${this.tag}-n${index}`);
    const s = SUBNET[subnet];
    const node: BedNode = {
      index,
      name: `node${index}`,
      ns,
      subnet,
      mode,
      v4: `${s.v4}.${10 + index}`,
      v6: `${s.v6}${(10 + index).toString(16)}`,
      podCIDR4: `10.240.${index}.0/24`,
      podCIDR6: `fd00:240:${index}::/64`,
      agentLog: join(this.dir, `agent-n${index}.log`),
      pods: [],
    };
    const br = subnet === 'A' ? 'bra' : 'brb';
    must('ip', ['-n', this.sw, 'link', 'add', `n${index}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    must('ip', ['-n', this.sw, 'link', 'set', `n${index}`, 'master', br, 'up']);
    const ip = (...a: string[]) => must('ip', ['-n', ns, ...a]);
    ip('addr', 'add', `${node.v4}/24`, 'dev', 'eth0');
    ip('addr', 'add', `${node.v6}/64`, 'dev', 'eth0', 'nodad');
    ip('link', 'set', 'eth0', 'up');
    const other = subnet === 'A' ? SUBNET.B : SUBNET.A;
    ip('route', 'add', `${other.v4}.0/24`, 'via', s.router4);
    ip('-6', 'route', 'add', `${other.v6}/64`, 'via', s.router6);
    ip('route', 'add', '10.98.0.0/24', 'via', s.router4);
    for (const k of ['net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']) must('ip', ['netns', 'exec', ns, 'sysctl', '-qw', k]);
    // The network config the runtime would pass (one plugin of the conflist): no default route in pods.
    writeFileSync(
      join(this.dir, `conf-n${index}.json`),
      JSON.stringify({
        cniVersion: '1.0.0',
        name: 'hostplane',
        type: 'hostplane',
        bridge: 'hp0',
        isGateway: true,
        isDefaultGateway: false,
        ipMasq: false,
        mtu: podMtu,
        hairpinMode: true,
        ipam: {
          type: 'hostplane',
          ranges: [[{ subnet: node.podCIDR4 }], [{ subnet: node.podCIDR6 }]],
          routes: POD_ROUTES.map((dst) => ({ dst })),
          dataDir: join(this.dir, `ipam-n${index}`),
        },
      }),
    );
    this.nodes.set(index, node);
    return node;
  }

  /** A pod on `node`, attached by the CNI plugin run inside the node's namespace. */
  addPod(node: BedNode): Pod {
    const ns = this.netns(`${this.tag}-n${node.index}p${node.pods.length + 1}`);
    const r = spawnSync('ip', ['netns', 'exec', node.ns, PLUGIN], {
      encoding: 'utf8',
      input: readConf(join(this.dir, `conf-n${node.index}.json`)),
      env: {
        CNI_COMMAND: 'ADD',
        CNI_CONTAINERID: `${ns}-id`,
        CNI_NETNS: `/run/netns/${ns}`,
        CNI_IFNAME: 'eth0',
        CNI_PATH: join(ROOT, 'dist', 'cni'),
        PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
      },
    });
    if (r.status !== 0) throw new Error(`CNI ADD on ${node.name}: ${r.stdout} ${r.stderr}`);
    const res = JSON.parse(r.stdout) as { ips: { address: string }[] };
    const v4 = res.ips.find((i) => !i.address.includes(':'))!.address.split('/')[0]!;
    const v6 = res.ips.find((i) => i.address.includes(':'))!.address.split('/')[0]!;
    const pod = { ns, node, v4, v6 };
    node.pods.push(pod);
    return pod;
  }

  agentConfig(node: BedNode): string {
    const file = join(this.dir, `agent-n${node.index}.yaml`);
    writeFileSync(
      file,
      JSON.stringify({
        nodeName: node.name,
        logLevel: 'info',
        http: { address: '127.0.0.1', port: 9810 },
        kubernetes: { apiServer: this.api!.url, tokenFile: this.api!.tokenFile, caFile: this.api!.caFile },
        cni: { enabled: false },
        csi: { enabled: false },
        devicePlugin: { enabled: false },
        routing: { mode: node.mode, resyncSeconds: 5 },
      }),
    );
    return file;
  }

  startAgent(node: BedNode): ChildProcess {
    const fd = openSync(node.agentLog, 'a');
    const p = spawn('ip', ['netns', 'exec', node.ns, AGENT, 'agent', '--config', this.agentConfig(node)], { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    this.procs.add(p);
    p.once('exit', () => this.procs.delete(p));
    node.agent = p;
    return p;
  }

  async killAgent(node: BedNode, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const p = node.agent;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill(signal);
    await withTimeout(gone, 15_000, `agent of ${node.name} exiting on ${signal}`);
    node.agent = undefined;
  }

  private control(method: string, path: string, body?: unknown): Promise<{ rv: number; at: number }> {
    return new Promise((resolve, reject) => {
      const req = request({ socketPath: this.api!.control, method, path, headers: { 'content-type': 'application/json' } }, (res) => {
        let s = '';
        res.on('data', (d) => (s += d));
        res.on('end', () => resolve(s ? JSON.parse(s) : {}));
      });
      req.on('error', reject);
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });
  }

  /** Create or update the node's Node object; resolves with the wall-clock time the API sent the event. */
  publish(node: BedNode, override: Record<string, unknown> = {}): Promise<{ rv: number; at: number }> {
    return this.control('PUT', '/nodes', {
      metadata: { name: node.name },
      spec: { podCIDR: node.podCIDR4, podCIDRs: [node.podCIDR4, node.podCIDR6] },
      status: {
        addresses: [
          { type: 'InternalIP', address: node.v4 },
          { type: 'InternalIP', address: node.v6 },
          { type: 'Hostname', address: node.name },
        ],
      },
      ...override,
    });
  }
  publishRaw(obj: unknown): Promise<{ rv: number; at: number }> {
    return this.control('PUT', '/nodes', obj);
  }
  unpublish(name: string): Promise<{ rv: number; at: number }> {
    return this.control('DELETE', `/nodes/${name}`);
  }
  dropWatches(): Promise<unknown> {
    return this.control('POST', '/drop-watches');
  }
  compact(): Promise<unknown> {
    return this.control('POST', '/compact');
  }

  /** Our routes in a node, as `ip route` prints them (both families), sorted. */
  routes(node: BedNode): string[] {
    const out: string[] = [];
    for (const fam of ['-4', '-6']) {
      out.push(
        ...sh('ip', ['-n', node.ns, fam, 'route', 'show', 'proto', String(ROUTE_PROTOCOL)])
          .stdout.split('\n')
          .filter(Boolean),
      );
    }
    return out.sort();
  }
  /** Routes, VXLAN devices, FDB and permanent neighbours: everything the agent owns. */
  datapath(node: BedNode): string {
    const parts = [this.routes(node).join('\n')];
    for (const dev of ['hp-vx4', 'hp-vx6']) {
      const l = sh('ip', ['-n', node.ns, '-d', 'link', 'show', 'dev', dev]);
      if (l.code !== 0) continue;
      parts.push(
        l.stdout
          .replace(/^\d+: /, '')
          .replace(/ (state|qlen|group|promiscuity|allmulti) \S+/g, '')
          .split('\n')
          .slice(0, 3)
          .join('\n'),
      );
      parts.push(sh('bridge', ['-n', node.ns, 'fdb', 'show', 'dev', dev]).stdout);
      parts.push(sh('ip', ['-n', node.ns, 'neigh', 'show', 'dev', dev, 'nud', 'permanent']).stdout);
    }
    return parts.join('\n');
  }

  /** Reachable: a reply to one of up to three pings (the first can be lost to neighbour discovery on a loaded machine). */
  ping(from: Pod, to: string): boolean {
    for (let i = 0; i < 3; i++) if (sh('ip', ['netns', 'exec', from.ns, 'ping', '-c1', '-W2', '-n', '-q', to]).code === 0) return true;
    return false;
  }

  /** Any long-running command in a namespace, killed by cleanup(). */
  spawnIn(ns: string, cmd: string, args: string[]): ChildProcess {
    const p = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.procs.add(p);
    p.once('exit', () => this.procs.delete(p));
    return p;
  }

  /** Run the TCP probe in a namespace. */
  probe(ns: string, args: string[]): ChildProcess {
    const p = spawn('ip', ['netns', 'exec', ns, NODE, PROBE, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.procs.add(p);
    p.once('exit', () => this.procs.delete(p));
    return p;
  }
  async server(ns: string, port: number): Promise<void> {
    const p = this.probe(ns, ['server', String(port)]);
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        p.stdout!.once('data', () => resolve());
        p.once('exit', (c) => reject(new Error(`probe server exited ${c}`)));
      }),
      30_000,
      `probe server in ${ns}`,
    );
  }
  async whoami(ns: string, addr: string, port: number): Promise<string> {
    const r = await output(this.probe(ns, ['whoami', addr, String(port)]));
    if (r.code !== 0) throw new Error(`whoami ${addr}:${port} from ${ns}: ${r.stderr}`);
    return r.stdout.trim();
  }

  /** Wait until cond() holds; returns the ms it took. */
  async until(cond: () => boolean, ms: number, what: string, stepMs = 20): Promise<number> {
    const t0 = performance.now();
    while (!cond()) {
      if (performance.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, stepMs));
    }
    return performance.now() - t0;
  }

  async cleanup(): Promise<void> {
    for (const p of [...this.procs]) {
      if (p.exitCode === null && p.signalCode === null) {
        const gone = new Promise<void>((r) => p.once('exit', () => r()));
        p.kill('SIGKILL');
        await Promise.race([gone, new Promise((r) => setTimeout(r, 3000))]);
      }
    }
    for (const ns of [...this.namespaces].reverse()) sh('ip', ['netns', 'del', ns]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function readConf(path: string): string {
  return spawnSync('cat', [path], { encoding: 'utf8' }).stdout;
}

/** The process's exit and output; after `ms` it is killed and the promise rejects (a test never hangs on one). */
export function output(p: ChildProcess, ms = 30_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    let stdout = '',
      stderr = '';
    p.stdout?.on('data', (d) => (stdout += d));
    p.stderr?.on('data', (d) => (stderr += d));
    const t = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`${p.spawnargs.join(' ')}: no exit in ${ms} ms; stdout ${stdout} stderr ${stderr}`));
    }, ms);
    p.once('exit', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      t = setTimeout(() => reject(new Error(`${what}: not done in ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(t));
}
