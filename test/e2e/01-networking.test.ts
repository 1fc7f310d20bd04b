// Flow 1, pod networking through the kubelet: a 10-replica Deployment gets
// 10 distinct addresses from the Node's spec.podCIDR, pods reach each other
// and the node, never the outside; deleting them releases every lease and veth.
import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DIR, NODE, NODE_IP, POD_BRIDGE, IMAGES } from './cluster/layout.ts';
import { apply, exec, getJson, waitFor, kubectl } from './cluster/kube.ts';
import { logTail } from './cluster/daemon.ts';
import { record } from './cluster/timings.ts';
import { flowLifecycle } from './cluster/flow.ts';

const NS = `net-${process.pid}`;
const LEASES = join(DIR.state, 'ipam', 'hostplane');
const leases = () => (existsSync(LEASES) ? readdirSync(LEASES).filter((f) => !f.startsWith('.')) : []);
const vethsOnBridge = () => execFileSync('ip', ['-o', 'link', 'show', 'master', POD_BRIDGE], { encoding: 'utf8' }).split('\n').filter(Boolean);
const inCidr = (ip: string, cidr: string) => {
  const [base, bits] = cidr.split('/');
  const n = (a: string) => a.split('.').reduce((x, o) => (x << 8) + Number(o), 0) >>> 0;
  const mask = Number(bits) === 0 ? 0 : (~0 << (32 - Number(bits))) >>> 0;
  return (n(ip) & mask) >>> 0 === (n(base!) & mask) >>> 0;
};

let pods: Array<{ name: string; ip: string }> = [];

flowLifecycle(NS, 'flow 1 (networking)');

describe('flow 1: pod networking through the kubelet', () => {
  it("a Deployment of 10 pods gets 10 distinct addresses in the Node's spec.podCIDR", async () => {
    const tStart = Date.now();
    apply(`apiVersion: apps/v1
kind: Deployment
metadata: { name: web, namespace: ${NS} }
spec:
  replicas: 10
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      terminationGracePeriodSeconds: 1
      containers: [{ name: c, image: ${IMAGES.busybox}, command: [sleep, "100000"] }]
`);
    const list = await waitFor(
      '10 pods Running with an IP',
      () => {
        const items = getJson(['-n', NS, 'pods', '-l', 'app=web']).items as any[];
        const running = items.filter(
          (p) => p.status.phase === 'Running' && p.status.podIP && p.status.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True'),
        );
        return running.length === 10 ? running : undefined;
      },
      180_000,
    );
    record('10-replica Deployment to all Running', Date.now() - tStart);
    pods = list.map((p: any) => ({ name: p.metadata.name, ip: p.status.podIP }));
    const cidr = getJson(['node', NODE]).spec.podCIDR as string;
    expect(new Set(pods.map((p) => p.ip)).size).toBe(10);
    for (const p of pods) expect(inCidr(p.ip, cidr), `${p.ip} in ${cidr}`).toBe(true);
    // One lease file per address, named by it.
    for (const p of pods) expect(leases(), p.ip).toContain(p.ip);
    expect(vethsOnBridge().length).toBeGreaterThanOrEqual(10);
  });

  it("the pods' ADDs were served by the agent's CNI server (the executable on the host is a thin client)", () => {
    const log = kubectl(['-n', 'hostplane', 'logs', 'daemonset/hostplane', '-c', 'agent', '--tail=-1']);
    const lines = log
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { msg?: string; cmd?: string; result?: string; netns?: string });
    const adds = lines.filter((l) => l.msg === 'cni request' && l.cmd === 'ADD');
    // Every pod of the Deployment (other flows' pods may add more).
    expect(adds.length).toBeGreaterThanOrEqual(10);
    expect(lines.filter((l) => l.msg === 'cni request declined')).toEqual([]);
  });

  it('pods ping each other, the node pings them, and pods ping the node address', () => {
    for (let i = 0; i < pods.length; i++) {
      const me = pods[i]!;
      const peer = pods[(i + 1) % pods.length]!;
      const r = exec(NS, me.name, ['ping', '-c', '1', '-W', '3', peer.ip]);
      expect(r.code, `${me.name} → ${peer.ip}: ${r.out}`).toBe(0);
    }
    const r = exec(NS, pods[0]!.name, ['ping', '-c', '1', '-W', '3', NODE_IP]);
    expect(r.code, r.out).toBe(0);
    for (const p of pods) execFileSync('ping', ['-c', '1', '-W', '3', p.ip], { stdio: 'ignore' });
  });

  it('a pod has no default route and cannot route to an outside address; its resolver is 127.0.0.1', () => {
    const p = pods[0]!.name;
    const routes = exec(NS, p, ['ip', 'route']);
    expect(routes.code).toBe(0);
    expect(routes.out).not.toMatch(/^default/m);
    for (const outside of ['1.1.1.1', '192.0.2.1', '8.8.8.8']) {
      const r = exec(NS, p, ['ip', 'route', 'get', outside]);
      expect(r.code, `ip route get ${outside}: ${r.out}`).not.toBe(0);
      expect(r.out).toMatch(/unreachable/i);
    }
    expect(exec(NS, p, ['cat', '/etc/resolv.conf']).out).toMatch(/^nameserver 127\.0\.0\.1$/m);
  });

  it('deleting the pods releases every lease and veth (containerd sends DEL twice: both succeed)', async () => {
    const ids = pods.map((p) => p.ip);
    kubectl(['-n', NS, 'delete', 'deployment', 'web', '--wait=true']);
    await waitFor('pods gone', () => (getJson(['-n', NS, 'pods']).items as any[]).length === 0, 120_000);
    await waitFor('leases released', () => !leases().some((l) => ids.includes(l)), 60_000);
    await waitFor('veths removed', () => vethsOnBridge().length === 0 || undefined, 60_000).catch(() => undefined);
    // Only the pods of other flows may still hold veths; none of these addresses does.
    const remaining = getJson(['pods', '--all-namespaces']).items.filter((p: any) => !p.spec.hostNetwork).length;
    expect(vethsOnBridge().length).toBe(remaining);
    const ctrd = readFileSync(join(DIR.logs, 'containerd.log'), 'utf8');
    expect(ctrd).not.toMatch(/failed to destroy network|failed to remove network/i);
    expect(logTail('kubelet', 200_000)).not.toMatch(/KillPodSandboxError/);
  });
});
