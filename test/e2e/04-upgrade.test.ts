// Flow 4, upgrades and restarts: a rolling update of the hostplane pod while
// a volume pod writes (writes never fail, the mount survives), the volume
// still expands, re-stages, unstages and deletes afterwards leaving no mount
// or loop device, pod ADDs keep working while the agent restarts, and
// daemonset/uninstall.sh leaves the node clean.
import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, DIR, KUBECONFIG, NODE, IMAGES, REPO, ROOT, HARDCODED_DIRS } from './cluster/layout.ts';
import { hostplanePod, daemonSetReady } from './cluster/install.ts';
import { apply, exec, getJson, kubectl, deleteNamespace, waitFor, waitRunning, tryKubectl } from './cluster/kube.ts';
import { loopDevicesUnderRoot, mountsUnder, pidsInCgroups } from './cluster/host.ts';
import { record } from './cluster/timings.ts';
import { flowLifecycle } from './cluster/flow.ts';

const NS = `upg-${process.pid}`;
const IMAGES_DIR = join(DIR.state, 'csi', 'images');
const images = () => (existsSync(IMAGES_DIR) ? readdirSync(IMAGES_DIR).filter((f) => f.endsWith('.img')) : []);
const csiMounts = () => mountsUnder(DIR.kubelet).filter((m) => m.includes('/kubernetes.io/csi/') || m.includes('/volumes/kubernetes.io~csi/'));

/** Processes of the node's pods that run the agent or a CSI sidecar. */
const hostplaneProcesses = () =>
  pidsInCgroups().filter((pid) => {
    try {
      return /hostplane\.mjs|csi-provisioner|csi-resizer|csi-snapshotter/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
    } catch {
      return false;
    }
  });

const lines = (pod: string) => Number(exec(NS, pod, ['sh', '-c', 'wc -l < /data/log']).out.trim());

flowLifecycle(NS, 'flow 4 (upgrades, restarts, uninstall)');

describe('flow 4: upgrades and restarts', () => {
  it('a rolling update of the hostplane pod while a volume pod writes: no write fails, the mount survives, ADDs keep working', async () => {
    apply(`apiVersion: v1
kind: PersistentVolumeClaim
metadata: { name: vol, namespace: ${NS} }
spec: { storageClassName: hostplane, accessModes: [ReadWriteOnce], resources: { requests: { storage: 100Mi } } }
---
apiVersion: v1
kind: Pod
metadata: { name: writer, namespace: ${NS} }
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: c
      image: ${IMAGES.busybox}
      command: [sh, -c, 'echo start > /data/log; while true; do if ! { date >> /data/log && sync /data/log; }; then echo failed >> /tmp/failures; fi; sleep 0.1; done']
      volumeMounts: [{ name: v, mountPath: /data }]
  volumes: [{ name: v, persistentVolumeClaim: { claimName: vol } }]
`);
    await waitRunning(NS, 'writer', 180_000);
    await waitFor('writes flowing', () => lines('writer') > 5, 30_000);
    const oldPod = hostplanePod();
    const t = Date.now();
    kubectl(['-n', 'hostplane', 'rollout', 'restart', 'daemonset/hostplane']);
    // While the old agent goes and the new one comes: pods keep getting networks.
    await waitFor(
      'old hostplane pod terminating',
      () => getJson(['-n', 'hostplane', 'pod', oldPod]).metadata.deletionTimestamp !== undefined || undefined,
      60_000,
    ).catch(() => undefined);
    apply(`apiVersion: v1
kind: Pod
metadata: { name: during-restart, namespace: ${NS} }
spec:
  terminationGracePeriodSeconds: 1
  containers: [{ name: c, image: ${IMAGES.busybox}, command: [sleep, "100000"] }]
`);
    await waitFor(
      'rollout done',
      () => {
        try {
          return daemonSetReady() && hostplanePod() !== oldPod;
        } catch {
          return false;
        }
      },
      240_000,
    );
    record('rolling update of the hostplane pod', Date.now() - t);
    await waitRunning(NS, 'during-restart', 120_000);
    const events = kubectl(['-n', NS, 'get', 'events', '--field-selector=involvedObject.name=during-restart', '-o', 'json']);
    expect(
      JSON.parse(events)
        .items.filter((e: any) => e.reason === 'FailedCreatePodSandBox')
        .map((e: any) => e.message),
    ).toEqual([]);

    const before = lines('writer');
    await waitFor('writes continue after the rollout', () => lines('writer') > before + 5, 30_000);
    expect(exec(NS, 'writer', ['cat', '/tmp/failures']).code).not.toBe(0); // no failure was ever recorded
    const w = getJson(['-n', NS, 'pod', 'writer']);
    expect(w.status.containerStatuses[0].restartCount).toBe(0);
    expect(exec(NS, 'writer', ['grep', ' /data ', '/proc/mounts']).code).toBe(0);
  });

  it('after the rollout the volume expands, re-stages in a new pod, unstages and deletes, leaving no mount or loop device', async () => {
    const pv = getJson(['-n', NS, 'pvc', 'vol']).spec.volumeName as string;
    kubectl(['-n', NS, 'patch', 'pvc', 'vol', '--type=merge', '-p', '{"spec":{"resources":{"requests":{"storage":"150Mi"}}}}']);
    await waitFor('PV capacity 150Mi', () => getJson(['pv', pv]).spec.capacity.storage === '150Mi', 120_000);
    kubectl(['-n', NS, 'delete', 'pod', 'writer', '--wait=true', '--timeout=120s'], { timeoutMs: 150_000 });
    apply(`apiVersion: v1
kind: Pod
metadata: { name: reader, namespace: ${NS} }
spec:
  terminationGracePeriodSeconds: 1
  containers: [{ name: c, image: ${IMAGES.busybox}, command: [sleep, "100000"], volumeMounts: [{ name: v, mountPath: /data }] }]
  volumes: [{ name: v, persistentVolumeClaim: { claimName: vol } }]
`);
    await waitRunning(NS, 'reader', 180_000);
    expect(exec(NS, 'reader', ['head', '-1', '/data/log']).out.trim()).toBe('start');
    const df = exec(NS, 'reader', ['df', '-k', '/data']).out.trim().split('\n').pop()!.trim().split(/\s+/);
    expect(Number(df[1])).toBeGreaterThan(120 * 1024);
    await waitFor('PVC status 150Mi', () => getJson(['-n', NS, 'pvc', 'vol']).status.capacity.storage === '150Mi', 60_000);

    kubectl(['-n', NS, 'delete', 'pod', '--all', '--wait=true', '--timeout=120s'], { timeoutMs: 150_000 });
    await waitFor('unstaged: no CSI mount left', () => csiMounts().length === 0, 60_000);
    kubectl(['-n', NS, 'delete', 'pvc', 'vol', '--wait=true', '--timeout=120s'], { timeoutMs: 150_000 });
    await waitFor('PV deleted', () => tryKubectl(['get', 'pv', pv]) === undefined, 120_000);
    await waitFor('image deleted', () => images().length === 0, 60_000);
    expect(csiMounts()).toEqual([]);
    expect(loopDevicesUnderRoot()).toEqual([]);
  });

  it('daemonset/uninstall.sh leaves the node clean', async () => {
    deleteNamespace(NS);
    const wrapper = join(ROOT, 'kubectl-e2e');
    writeFileSync(wrapper, `#!/bin/sh\nexec ${BIN.kubectl} --kubeconfig ${KUBECONFIG} "$@"\n`);
    chmodSync(wrapper, 0o755);
    const out = execFileSync('bash', [join(REPO, 'daemonset', 'uninstall.sh')], {
      env: { ...process.env, KUBECTL: wrapper },
      encoding: 'utf8',
      timeout: 240_000,
    });
    expect(out).toMatch(/hostplane is uninstalled/);
    // Nothing of hostplane in the API...
    expect(tryKubectl(['get', 'namespace', 'hostplane'])).toBeUndefined();
    expect(tryKubectl(['get', 'csidriver', 'csi.hostplane.io'])).toBeUndefined();
    expect(tryKubectl(['get', 'storageclass', 'hostplane'])).toBeUndefined();
    expect(kubectl(['get', 'clusterroles', '-o', 'name'])).not.toMatch(/hostplane/);
    // ...nor running on the node: no container, no socket the kubelet would dial, no mount, no loop device.
    await waitFor('no hostplane process on the node', () => hostplaneProcesses().length === 0 || undefined, 60_000);
    const registry = join(DIR.kubelet, 'plugins_registry');
    await waitFor('plugin registration sockets gone', () => !existsSync(registry) || readdirSync(registry).length === 0, 60_000);
    expect(
      readdirSync(HARDCODED_DIRS[0]).filter((f) => f !== 'kubelet.sock' && !f.startsWith('DEVICE_MANAGER_CHECKPOINT') && !f.endsWith('checkpoint')),
    ).toEqual([]);
    expect(existsSync(join(DIR.kubelet, 'plugins', 'csi.hostplane.io', 'csi.sock'))).toBe(false);
    expect(csiMounts()).toEqual([]);
    expect(loopDevicesUnderRoot()).toEqual([]);
    const csinode = getJson(['csinode', NODE]);
    expect((csinode.spec.drivers ?? []).map((d: any) => d.name)).not.toContain('csi.hostplane.io');
  });
});
