// Where the e2e node lives and what it is called. One fixed root: the
// kustomize overlay under test/e2e/overlay/ names these host paths, and a
// crashed run's leftovers are found (and cleaned) by the next one. Nothing
// here is the host's own: the host's /etc/cni/net.d, /opt/cni/bin, /var/lib/kubelet
// and system containerd are never used, except the two directories the
// kubelet hard-codes (recorded and restored by host.ts).
import { join } from 'node:path';

export const ROOT = '/var/lib/hostplane-e2e';
export const REPO = join(import.meta.dirname, '..', '..', '..');
export const CACHE = process.env.HOSTPLANE_E2E_CACHE ?? '/var/cache/hostplane-e2e';

export const VERSIONS = {
  kubernetes: 'v1.34.4',
  etcd: 'v3.6.16',
  containerd: 'v2.2.9',
  provisioner: 'v5.2.0',
  snapshotter: 'v8.2.1',
  resizer: 'v1.13.1',
} as const;

export const BIN = {
  etcd: join(CACHE, `etcd-${VERSIONS.etcd}`, 'etcd'),
  apiserver: join(CACHE, `kubernetes-${VERSIONS.kubernetes}`, 'kube-apiserver'),
  controllerManager: join(CACHE, `kubernetes-${VERSIONS.kubernetes}`, 'kube-controller-manager'),
  scheduler: join(CACHE, `kubernetes-${VERSIONS.kubernetes}`, 'kube-scheduler'),
  kubelet: join(CACHE, `kubernetes-${VERSIONS.kubernetes}`, 'kubelet'),
  kubectl: join(CACHE, `kubernetes-${VERSIONS.kubernetes}`, 'kubectl'),
  containerdDir: join(CACHE, `containerd-${VERSIONS.containerd}`),
  containerd: join(CACHE, `containerd-${VERSIONS.containerd}`, 'containerd'),
  ctr: join(CACHE, `containerd-${VERSIONS.containerd}`, 'ctr'),
  provisioner: join(CACHE, `csi-provisioner-${VERSIONS.provisioner}`, 'csi-provisioner'),
  snapshotter: join(CACHE, `csi-snapshotter-${VERSIONS.snapshotter}`, 'csi-snapshotter'),
  snapshotController: join(CACHE, `csi-snapshotter-${VERSIONS.snapshotter}`, 'snapshot-controller'),
  snapshotCrds: join(CACHE, `csi-snapshotter-${VERSIONS.snapshotter}`, 'crd'),
  resizer: join(CACHE, `csi-resizer-${VERSIONS.resizer}`, 'csi-resizer'),
  runc: '/usr/sbin/runc',
  refCni: '/opt/hostplane-ref/cni-plugins-v1.10.0',
} as const;

export const NODE = 'hp-e2e-node';
/** The node's address: a /32 on a port-less bridge (no dummy links on these kernels). */
export const NODE_IP = '10.246.255.1';
export const NODE_LINK = 'hpe2e-node';
/** The bridge our CNI makes (overlay's agent.yaml) and the reference bridge's (bench). */
export const POD_BRIDGE = 'hpe2e0';
export const REF_BRIDGE = 'hpe2eref0';
export const REF_SUBNET = '10.246.250.0/24';
export const CLUSTER_CIDR = '10.246.0.0/16';
export const SERVICE_CIDR = '10.96.0.0/24';
export const API_PORT = 6443;
/** Pre-created in every cgroup v1 hierarchy; the kubelet puts kubepods under it. */
export const CGROUP_ROOT = '/hostplane-e2e';

export const DIR = {
  pki: join(ROOT, 'pki'),
  etcd: join(ROOT, 'etcd'),
  logs: join(ROOT, 'logs'),
  pids: join(ROOT, 'pids'),
  containerd: join(ROOT, 'containerd'),
  kubelet: join(ROOT, 'kubelet'),
  podLogs: join(ROOT, 'pod-logs'),
  cniBin: join(ROOT, 'cni', 'bin'),
  cniConf: join(ROOT, 'cni', 'net.d'),
  refCniConf: join(ROOT, 'cni', 'ref.d'),
  cdi: join(ROOT, 'cdi'),
  state: join(ROOT, 'state'),
  // Where containerd (netns_mounts_under_state_dir) makes pod netns: its CRI state dir.
  netns: join(ROOT, 'containerd', 'state', 'io.containerd.grpc.v1.cri', 'netns'),
  images: join(CACHE, 'images'),
} as const;

export const CONTAINERD_SOCK = join(DIR.containerd, 'containerd.sock');
export const KUBECONFIG = join(DIR.pki, 'admin.kubeconfig');
/** Host state recorded before start, restored at teardown (host.ts). */
export const RECORD = join('/var/lib', 'hostplane-e2e.record.json');
/** The kubelet hard-codes these two outside its --root-dir. */
export const HARDCODED_DIRS = ['/var/lib/kubelet/device-plugins', '/var/log/containers'] as const;

export const IMAGES = {
  agent: 'localhost/hostplane:0.1.0',
  pause: 'localhost/hostplane-e2e/pause:1',
  busybox: 'localhost/hostplane-e2e/busybox:1',
  provisioner: `registry.k8s.io/sig-storage/csi-provisioner:${VERSIONS.provisioner}`,
  resizer: `registry.k8s.io/sig-storage/csi-resizer:${VERSIONS.resizer}`,
  snapshotter: `registry.k8s.io/sig-storage/csi-snapshotter:${VERSIONS.snapshotter}`,
  snapshotController: `registry.k8s.io/sig-storage/snapshot-controller:${VERSIONS.snapshotter}`,
} as const;

/** PATH for every daemon: our containerd (and its shim) first, then the system tools. */
export const DAEMON_PATH = `${BIN.containerdDir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`;
