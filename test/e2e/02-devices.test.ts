// Flow 3, extended resources: the node's allocatable shows ours; a pod that
// asks for hostplane.dev/fuse runs with /dev/fuse (through CDI); asking for
// more than exists stays Pending with the scheduler's reason; a kubelet
// restart re-advertises the resources within seconds and running pods keep
// their devices.
import { describe, it, expect } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DIR, NODE, IMAGES } from './cluster/layout.ts';
import { apply, exec, getJson, waitFor, waitRunning } from './cluster/kube.ts';
import { stopDaemon } from './cluster/daemon.ts';
import { startKubelet, waitKubeletHealthy } from './cluster/cluster.ts';
import { record } from './cluster/timings.ts';
import { flowLifecycle } from './cluster/flow.ts';

const NS = `dev-${process.pid}`;

const pod = (name: string, fuse: number) => `apiVersion: v1
kind: Pod
metadata: { name: ${name}, namespace: ${NS} }
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: c
      image: ${IMAGES.busybox}
      command: [sleep, "100000"]
      resources: { limits: { hostplane.dev/fuse: "${fuse}" } }
`;

flowLifecycle(NS, 'flow 3 (extended resources)');

describe('flow 3: extended resources through the kubelet', () => {
  it("the node's capacity and allocatable show our resources", () => {
    const st = getJson(['node', NODE]).status;
    expect(st.capacity['hostplane.dev/fuse']).toBe('10');
    expect(st.allocatable['hostplane.dev/fuse']).toBe('10');
    expect(st.allocatable['hostplane.dev/tun']).toBe('10');
  });

  it('a pod with hostplane.dev/fuse: 1 runs with /dev/fuse, injected through a CDI spec', async () => {
    apply(pod('fuse', 1));
    await waitRunning(NS, 'fuse');
    const r = exec(NS, 'fuse', ['stat', '-c', '%F %t:%T', '/dev/fuse']);
    expect(r.code, r.out).toBe(0);
    // character special, major 10 minor 229 (hex a:e5)
    expect(r.out.trim()).toBe('character special file a:e5');
    const specs = readdirSync(DIR.cdi).filter((f) => f.endsWith('.json') || f.endsWith('.yaml'));
    expect(specs.length).toBeGreaterThan(0);
    expect(specs.map((f) => readFileSync(join(DIR.cdi, f), 'utf8')).join('\n')).toMatch(/\/dev\/fuse/);
    // Not privileged: the device node is there only because it was allocated.
    const plain = exec(NS, 'fuse', ['stat', '/dev/net/tun']);
    expect(plain.code).not.toBe(0);
  });

  it("a pod asking for more than exists stays Pending with the scheduler's reason", async () => {
    apply(pod('too-many', 11));
    const cond = await waitFor(
      'PodScheduled=False',
      () => {
        const p = getJson(['-n', NS, 'pod', 'too-many']);
        return p.status.conditions?.find((c: any) => c.type === 'PodScheduled' && c.status === 'False');
      },
      60_000,
    );
    expect(cond.reason).toBe('Unschedulable');
    expect(cond.message).toMatch(/Insufficient hostplane\.dev\/fuse/);
    expect(getJson(['-n', NS, 'pod', 'too-many']).status.phase).toBe('Pending');
  });

  it('after a kubelet restart the resources are re-advertised within seconds and the running pod keeps /dev/fuse', async () => {
    stopDaemon('kubelet');
    const t = Date.now();
    startKubelet();
    await waitKubeletHealthy();
    // The kubelet forgets every device plugin on start: a pod needing one is
    // admitted only once ours has registered again (else it fails admission).
    apply(pod('fuse-after', 1));
    await waitRunning(NS, 'fuse-after', 60_000);
    const ms = Date.now() - t;
    record('kubelet restart to a new fuse pod Running', ms);
    expect(ms).toBeLessThan(45_000);
    const r = exec(NS, 'fuse', ['stat', '-c', '%F', '/dev/fuse']);
    expect(r.code, r.out).toBe(0);
    expect(getJson(['-n', NS, 'pod', 'fuse']).status.containerStatuses[0].restartCount).toBe(0);
    expect(exec(NS, 'fuse-after', ['stat', '/dev/fuse']).code).toBe(0);
    expect(getJson(['node', NODE]).status.allocatable['hostplane.dev/fuse']).toBe('10');
  });
});
