// The install a user does: kubectl apply -k, then the DaemonSet goes Ready,
// the node goes Ready (the agent wrote the conflist from the Node's podCIDR),
// the CSI driver and the device plugins register — and nothing of the node
// listens off loopback or the node address.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { DIR, NODE, NODE_IP, CGROUP_ROOT } from './cluster/layout.ts';
import { install, hostplanePod } from './cluster/install.ts';
import { apply, getJson, kubectl, waitFor, waitRunning, tryKubectl } from './cluster/kube.ts';
import { knownDaemons, daemonPid } from './cluster/daemon.ts';
import { pidsInCgroups } from './cluster/host.ts';
import { record } from './cluster/timings.ts';

const CONFLIST = join(DIR.cniConf, '10-hostplane.conflist');
let watcher: FSWatcher | undefined;
const events: Array<[string, string | null]> = [];
const torn: string[] = [];
let readerTimer: NodeJS.Timeout | undefined;

beforeAll(() => {
  // Watch the conf dir through the install: the conflist must appear by rename, whole.
  watcher = watch(DIR.cniConf, (ev, name) => events.push([ev, name]));
  readerTimer = setInterval(() => {
    if (!existsSync(CONFLIST)) return;
    const text = readFileSync(CONFLIST, 'utf8');
    try {
      JSON.parse(text);
    } catch {
      torn.push(text);
    }
  }, 2);
});
afterAll(() => {
  watcher?.close();
  clearInterval(readerTimer);
  tryKubectl(['delete', 'pod', 'early', '--ignore-not-found', '--wait=false']);
});

describe('install: kubectl apply -k daemonset/ (e2e overlay)', () => {
  it('before the install the node is not Ready and a pod waits for the network', async () => {
    const n = getJson(['node', NODE]);
    expect(n.spec.podCIDR).toMatch(/^10\.246\.\d+\.0\/24$/);
    const ready = n.status.conditions.find((c: any) => c.type === 'Ready');
    expect(ready.status).not.toBe('True');
    expect(ready.message).toMatch(/network plugin|cni/i);
    expect(existsSync(CONFLIST)).toBe(false);
    apply(`apiVersion: v1
kind: Pod
metadata: { name: early, namespace: default }
spec:
  terminationGracePeriodSeconds: 1
  containers: [{ name: c, image: localhost/hostplane-e2e/busybox:1, command: [sleep, "100000"] }]
`);
  });

  it('the DaemonSet and the Node become Ready; the conflist was written once, atomically, before any pod network', async () => {
    const ms = await install();
    record('install to DaemonSet+Node Ready', ms);
    const conf = JSON.parse(readFileSync(CONFLIST, 'utf8'));
    const node = getJson(['node', NODE]);
    expect(conf.plugins[0].ipam.ranges).toEqual([[{ subnet: node.spec.podCIDR }]]);
    expect(conf.plugins[0].isDefaultGateway).toBe(false);
    expect(conf.plugins[0].ipMasq).toBe(false);
    expect(torn).toEqual([]);
    // Written in place, a file shows 'change' events under its own name; renamed into place, only 'rename'.
    // The watch callback may still be queued behind install()'s last poll: wait for it (bounded).
    const renamed = await waitFor(
      'the conflist renamed into place',
      () => events.some(([ev, name]) => name === '10-hostplane.conflist' && ev === 'rename') || undefined,
      5_000,
    ).catch(() => false);
    expect(events.filter(([ev, name]) => name === '10-hostplane.conflist' && ev === 'change')).toEqual([]);
    expect(renamed).toBe(true);
    const early = await waitRunning('default', 'early');
    const sandboxAt = Date.parse(early.status.startTime);
    const ds = getJson(['-n', 'hostplane', 'daemonset', 'hostplane']);
    expect(ds.status.numberReady).toBe(1);
    expect(sandboxAt).toBeGreaterThan(0);
  });

  it('every hostplane container is ready, running the images the manifests name', () => {
    const pod = getJson(['-n', 'hostplane', 'pod', hostplanePod()]);
    const statuses = pod.status.containerStatuses as Array<{ name: string; ready: boolean; image: string; restartCount: number }>;
    expect(statuses.map((s) => s.name).sort()).toEqual(['agent', 'csi-provisioner', 'csi-resizer', 'csi-snapshotter']);
    for (const s of statuses) expect(s.ready, s.name).toBe(true);
  });

  it('registers the CSI driver (CSINode) and the device plugins (allocatable)', async () => {
    await waitFor('CSINode lists csi.hostplane.io', () => getJson(['csinode', NODE]).spec.drivers?.some((d: any) => d.name === 'csi.hostplane.io'));
    const alloc = await waitFor('allocatable hostplane.dev/*', () => {
      const a = getJson(['node', NODE]).status.allocatable;
      return a['hostplane.dev/fuse'] && a['hostplane.dev/tun'] ? a : undefined;
    });
    expect(alloc['hostplane.dev/fuse']).toBe('10');
    expect(alloc['hostplane.dev/tun']).toBe('10');
  });

  it('nothing of the node listens off loopback or the node address', () => {
    const ours = new Set<number>([
      ...knownDaemons()
        .map((d) => daemonPid(d))
        .filter((p): p is number => p !== undefined),
      ...pidsInCgroups(),
    ]);
    expect(ours.size).toBeGreaterThan(6);
    const bad: string[] = [];
    let seen = 0;
    for (const line of execFileSync('ss', ['-Hltunp'], { encoding: 'utf8' }).split('\n').filter(Boolean)) {
      const cols = line.trim().split(/\s+/);
      const local = cols[4]!;
      const pids = [...line.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1]));
      if (!pids.some((p) => ours.has(p))) continue;
      seen++;
      const addr = local
        .slice(0, local.lastIndexOf(':'))
        .replace(/^\[|\]$/g, '')
        .replace(/%.*$/, '');
      if (!['127.0.0.1', '::1', NODE_IP].includes(addr)) bad.push(line);
    }
    expect(seen).toBeGreaterThan(3);
    expect(bad).toEqual([]);
    expect(CGROUP_ROOT).toBe('/hostplane-e2e');
  });

  it('the kubelet reports the node Ready with NetworkReady (no network-plugin message)', () => {
    const ready = getJson(['node', NODE]).status.conditions.find((c: any) => c.type === 'Ready');
    expect(ready.status).toBe('True');
    expect(ready.reason).toBe('KubeletReady');
    expect(kubectl(['get', '--raw', `/api/v1/nodes/${NODE}/proxy/healthz`]).trim()).toBe('ok');
  });
});
