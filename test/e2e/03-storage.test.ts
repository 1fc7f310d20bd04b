// Flow 2, PersistentVolumeClaims against the StorageClass, checked the way a
// user would: the claim binds to a PV with node affinity once a pod is
// scheduled (WaitForFirstConsumer), df shows the size and writing past it
// gives ENOSPC, data survives the pod, the claim grows, a Block claim works
// through volumeDevices, a VolumeSnapshot and a clone carry the data,
// CSIStorageCapacity is published, deleting claims deletes PVs and images,
// and an inline ephemeral volume works.
import { describe, it, expect } from 'vitest';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DIR, NODE, IMAGES } from './cluster/layout.ts';
import { apply, exec, getJson, kubectl, waitFor, waitRunning, tryKubectl } from './cluster/kube.ts';
import { record } from './cluster/timings.ts';
import { flowLifecycle } from './cluster/flow.ts';

const NS = `pvc-${process.pid}`;
const IMAGES_DIR = join(DIR.state, 'csi', 'images');
const images = () => (existsSync(IMAGES_DIR) ? readdirSync(IMAGES_DIR).filter((f) => f.endsWith('.img')) : []);

const pvc = (name: string, size: string, extra = '') => `apiVersion: v1
kind: PersistentVolumeClaim
metadata: { name: ${name}, namespace: ${NS} }
spec:
  storageClassName: hostplane
  accessModes: [ReadWriteOnce]
  resources: { requests: { storage: ${size} } }
${extra}`;

const podWith = (name: string, claim: string) => `apiVersion: v1
kind: Pod
metadata: { name: ${name}, namespace: ${NS} }
spec:
  terminationGracePeriodSeconds: 1
  containers: [{ name: c, image: ${IMAGES.busybox}, command: [sleep, "100000"], volumeMounts: [{ name: v, mountPath: /data }] }]
  volumes: [{ name: v, persistentVolumeClaim: { claimName: ${claim} } }]
`;

/** df -k /data in the pod: total KiB. */
const dfKiB = (pod: string) => {
  const r = exec(NS, pod, ['df', '-k', '/data']);
  if (r.code !== 0) throw new Error(r.out);
  return Number(r.out.trim().split('\n').pop()!.trim().split(/\s+/)[1]);
};

async function deletePod(name: string): Promise<void> {
  kubectl(['-n', NS, 'delete', 'pod', name, '--wait=true', '--timeout=120s'], { timeoutMs: 150_000 });
}

flowLifecycle(NS, 'flow 2 (storage)');

describe('flow 2: PersistentVolumeClaims through the kubelet', () => {
  it('a WaitForFirstConsumer claim binds when its pod is scheduled, to a PV with node affinity', async () => {
    apply(pvc('data', '100Mi'));
    expect(getJson(['-n', NS, 'pvc', 'data']).status.phase).toBe('Pending');
    const t = Date.now();
    apply(podWith('writer', 'data'));
    await waitRunning(NS, 'writer', 180_000);
    record('WFFC PVC + pod to Running', Date.now() - t);
    const claim = getJson(['-n', NS, 'pvc', 'data']);
    expect(claim.status.phase).toBe('Bound');
    const pv = getJson(['pv', claim.spec.volumeName]);
    expect(pv.spec.csi.driver).toBe('csi.hostplane.io');
    const terms = pv.spec.nodeAffinity.required.nodeSelectorTerms as any[];
    expect(JSON.stringify(terms)).toContain(NODE);
  });

  it('df shows the requested size and writing past it fails with ENOSPC', () => {
    const kib = dfKiB('writer');
    expect(kib).toBeGreaterThan(80 * 1024);
    expect(kib).toBeLessThanOrEqual(100 * 1024);
    const r = exec(NS, 'writer', ['dd', 'if=/dev/zero', 'of=/data/fill', 'bs=1M', 'count=200']);
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/No space left on device/);
    expect(exec(NS, 'writer', ['rm', '/data/fill']).code).toBe(0);
    expect(exec(NS, 'writer', ['sh', '-c', 'echo hello-hostplane > /data/marker && sync']).code).toBe(0);
  });

  it('the data survives deleting and re-creating the pod', async () => {
    await deletePod('writer');
    apply(podWith('writer', 'data'));
    await waitRunning(NS, 'writer');
    expect(exec(NS, 'writer', ['cat', '/data/marker']).out.trim()).toBe('hello-hostplane');
  });

  it('growing the claim grows the filesystem the pod sees', async () => {
    const before = dfKiB('writer');
    kubectl(['-n', NS, 'patch', 'pvc', 'data', '--type=merge', '-p', '{"spec":{"resources":{"requests":{"storage":"200Mi"}}}}']);
    await waitFor('PV capacity 200Mi', () => getJson(['pv', getJson(['-n', NS, 'pvc', 'data']).spec.volumeName]).spec.capacity.storage === '200Mi', 120_000);
    // Online in the running pod where the kernel allows it (ext4 online
    // resize needs CAP_SYS_RESOURCE, which root lacks on these machines); at
    // the next stage (a new pod) otherwise. The claim reports it either way.
    let grown = await waitFor('df grows in the running pod', () => dfKiB('writer') > before + 50 * 1024, 30_000)
      .then(() => 'online')
      .catch(() => undefined);
    if (!grown) {
      await deletePod('writer');
      apply(podWith('writer', 'data'));
      await waitRunning(NS, 'writer');
      grown = 'at next stage';
    }
    expect(dfKiB('writer')).toBeGreaterThan(before + 50 * 1024);
    await waitFor('PVC status 200Mi', () => getJson(['-n', NS, 'pvc', 'data']).status.capacity.storage === '200Mi', 60_000);
    expect(exec(NS, 'writer', ['cat', '/data/marker']).out.trim()).toBe('hello-hostplane');
    process.stderr.write(`[e2e] PVC expansion took effect ${grown}\n`);
  });

  it('a volumeMode: Block claim is a block device in the pod (volumeDevices)', async () => {
    apply(pvc('raw', '64Mi', '  volumeMode: Block\n'));
    apply(`apiVersion: v1
kind: Pod
metadata: { name: raw, namespace: ${NS} }
spec:
  terminationGracePeriodSeconds: 1
  containers: [{ name: c, image: ${IMAGES.busybox}, command: [sleep, "100000"], volumeDevices: [{ name: v, devicePath: /dev/xvda }] }]
  volumes: [{ name: v, persistentVolumeClaim: { claimName: raw } }]
`);
    await waitRunning(NS, 'raw', 180_000);
    expect(exec(NS, 'raw', ['stat', '-c', '%F', '/dev/xvda']).out.trim()).toBe('block special file');
    expect(exec(NS, 'raw', ['blockdev', '--getsize64', '/dev/xvda']).out.trim()).toBe(String(64 * 1024 * 1024));
    expect(
      exec(NS, 'raw', ['sh', '-c', 'echo blockdata | dd of=/dev/xvda bs=512 count=1 conv=sync 2>/dev/null && dd if=/dev/xvda bs=10 count=1 2>/dev/null']).out,
    ).toContain('blockdata');
  });

  it('a VolumeSnapshot restored into a new claim holds the data', async () => {
    apply(`apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshot
metadata: { name: snap, namespace: ${NS} }
spec:
  volumeSnapshotClassName: hostplane
  source: { persistentVolumeClaimName: data }
`);
    await waitFor('VolumeSnapshot readyToUse', () => getJson(['-n', NS, 'volumesnapshot', 'snap']).status?.readyToUse === true, 120_000);
    apply(pvc('restored', '200Mi', '  dataSource: { apiGroup: snapshot.storage.k8s.io, kind: VolumeSnapshot, name: snap }\n'));
    apply(podWith('restored', 'restored'));
    await waitRunning(NS, 'restored', 180_000);
    expect(exec(NS, 'restored', ['cat', '/data/marker']).out.trim()).toBe('hello-hostplane');
  });

  it('a clone (dataSource: the claim) holds the data', async () => {
    apply(pvc('clone', '200Mi', '  dataSource: { kind: PersistentVolumeClaim, name: data }\n'));
    apply(podWith('clone', 'clone'));
    await waitRunning(NS, 'clone', 180_000);
    expect(exec(NS, 'clone', ['cat', '/data/marker']).out.trim()).toBe('hello-hostplane');
  });

  it('CSIStorageCapacity is published for the node and the StorageClass', () => {
    const caps = getJson(['csistoragecapacities', '--all-namespaces']).items as any[];
    const ours = caps.filter((c) => c.storageClassName === 'hostplane' && JSON.stringify(c.nodeTopology ?? {}).includes(NODE));
    expect(ours.length).toBeGreaterThan(0);
    expect(ours[0].capacity).toMatch(/^\d+/);
  });

  it('an inline ephemeral volume (declared in the CSIDriver) works', async () => {
    apply(`apiVersion: v1
kind: Pod
metadata: { name: inline, namespace: ${NS} }
spec:
  terminationGracePeriodSeconds: 1
  containers: [{ name: c, image: ${IMAGES.busybox}, command: [sleep, "100000"], volumeMounts: [{ name: v, mountPath: /data }] }]
  volumes: [{ name: v, csi: { driver: csi.hostplane.io, volumeAttributes: { size: 64Mi } } }]
`);
    await waitRunning(NS, 'inline', 120_000);
    expect(exec(NS, 'inline', ['sh', '-c', 'echo x > /data/f && cat /data/f']).out.trim()).toBe('x');
    await deletePod('inline');
  });

  it('deleting the claims deletes the PVs and the images', async () => {
    const pvs = (getJson(['-n', NS, 'pvc']).items as any[]).map((c) => c.spec.volumeName).filter(Boolean);
    expect(pvs.length).toBe(4);
    expect(images().length).toBeGreaterThanOrEqual(4);
    tryKubectl(['-n', NS, 'delete', 'volumesnapshot', '--all', '--wait=true']);
    kubectl(['-n', NS, 'delete', 'pod', '--all', '--wait=true'], { timeoutMs: 150_000 });
    kubectl(['-n', NS, 'delete', 'pvc', '--all', '--wait=true'], { timeoutMs: 150_000 });
    await waitFor('PVs deleted', () => pvs.every((pv) => tryKubectl(['get', 'pv', pv]) === undefined), 120_000);
    await waitFor('images deleted', () => images().length === 0, 60_000);
  });
});
