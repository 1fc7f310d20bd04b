// Starts and stops the single-node cluster: etcd, kube-apiserver,
// kube-controller-manager (allocates the Node's podCIDR), kube-scheduler,
// containerd and the kubelet, each a setsid'd process with a pid file, plus
// the cluster prerequisites a snapshot install needs (VolumeSnapshot CRDs,
// snapshot-controller). stopCluster() is synchronous and idempotent: it runs
// from afterAll, from a process-exit handler, and before a start that finds
// leftovers of a run that died.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, CLUSTER_CIDR, CONTAINERD_SOCK, DIR, NODE, NODE_IP, SERVICE_CIDR, API_PORT, KUBECONFIG, IMAGES } from './layout.ts';
import { startDaemon, stopDaemon, knownDaemons, killPid, alive, logTail, daemonPid, sleepSync } from './daemon.ts';
import { makePki, pki } from './pki.ts';
import { setupHost, restoreHost, hasRecord, pidsInCgroups } from './host.ts';
import { writeContainerdConfig, writeKubeletConfig, writeRefConflist } from './config-files.ts';
import { buildImages, importImages, ctr } from './images.ts';
import { kubectl, tryKubectl, apply, waitFor, getJson } from './kube.ts';

const need = (path: string) => {
  if (!existsSync(path)) throw new Error(`${path} is missing: build the test bed with bash test/e2e/build-tools.sh (.ci/run does)`);
};

async function waitDaemon(name: string, what: string, probe: () => boolean, timeoutMs = 90_000): Promise<void> {
  await waitFor(
    what,
    () => {
      if (daemonPid(name) === undefined) throw new Error(`${name} exited: ${logTail(name)}`);
      return probe();
    },
    timeoutMs,
    200,
  ).catch((e: Error) => {
    throw new Error(`${e.message}\n--- ${name} log ---\n${logTail(name)}`);
  });
}

function startContainerd(): void {
  const config = writeContainerdConfig();
  startDaemon({ name: 'containerd', bin: BIN.containerd, args: ['--config', config] });
}

function startEtcd(): void {
  startDaemon({
    name: 'etcd',
    bin: BIN.etcd,
    args: [
      '--name=e2e',
      `--data-dir=${DIR.etcd}`,
      '--listen-client-urls=http://127.0.0.1:2379',
      '--advertise-client-urls=http://127.0.0.1:2379',
      '--listen-peer-urls=http://127.0.0.1:2380',
      '--initial-advertise-peer-urls=http://127.0.0.1:2380',
      '--initial-cluster=e2e=http://127.0.0.1:2380',
      '--unsafe-no-fsync=true',
      '--log-level=warn',
    ],
  });
}

function startApiserver(): void {
  startDaemon({
    name: 'kube-apiserver',
    bin: BIN.apiserver,
    args: [
      '--etcd-servers=http://127.0.0.1:2379',
      '--bind-address=127.0.0.1',
      `--secure-port=${API_PORT}`,
      // Not loopback: the "kubernetes" Endpoints may not be in the loopback range.
      `--advertise-address=${NODE_IP}`,
      `--tls-cert-file=${pki('apiserver.crt')}`,
      `--tls-private-key-file=${pki('apiserver.key')}`,
      `--client-ca-file=${pki('ca.crt')}`,
      `--kubelet-client-certificate=${pki('apiserver-kubelet-client.crt')}`,
      `--kubelet-client-key=${pki('apiserver-kubelet-client.key')}`,
      `--kubelet-certificate-authority=${pki('ca.crt')}`,
      '--kubelet-preferred-address-types=InternalIP',
      `--service-account-key-file=${pki('sa.pub')}`,
      `--service-account-signing-key-file=${pki('sa.key')}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      '--authorization-mode=Node,RBAC',
      '--enable-admission-plugins=NodeRestriction',
      '--allow-privileged=true',
      `--requestheader-client-ca-file=${pki('front-proxy-ca.crt')}`,
      '--requestheader-allowed-names=front-proxy-client',
      '--requestheader-extra-headers-prefix=X-Remote-Extra-',
      '--requestheader-group-headers=X-Remote-Group',
      '--requestheader-username-headers=X-Remote-User',
      `--proxy-client-cert-file=${pki('front-proxy-client.crt')}`,
      `--proxy-client-key-file=${pki('front-proxy-client.key')}`,
    ],
  });
}

function startControllers(): void {
  const common = (name: string) => [
    `--kubeconfig=${pki(`${name}.kubeconfig`)}`,
    `--authentication-kubeconfig=${pki(`${name}.kubeconfig`)}`,
    `--authorization-kubeconfig=${pki(`${name}.kubeconfig`)}`,
    '--bind-address=127.0.0.1',
    '--leader-elect=false',
  ];
  startDaemon({
    name: 'kube-controller-manager',
    bin: BIN.controllerManager,
    args: [
      ...common('controller-manager'),
      '--allocate-node-cidrs=true',
      `--cluster-cidr=${CLUSTER_CIDR}`,
      '--node-cidr-mask-size=24',
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      '--controllers=*,-service-lb-controller,-node-route-controller,-cloud-node-lifecycle-controller',
      `--root-ca-file=${pki('ca.crt')}`,
      `--service-account-private-key-file=${pki('sa.key')}`,
      '--use-service-account-credentials=true',
    ],
  });
  startDaemon({ name: 'kube-scheduler', bin: BIN.scheduler, args: common('scheduler') });
}

export function startKubelet(): void {
  const config = writeKubeletConfig();
  startDaemon({
    name: 'kubelet',
    bin: BIN.kubelet,
    args: [
      `--config=${config}`,
      `--kubeconfig=${pki('kubelet.kubeconfig')}`,
      `--root-dir=${DIR.kubelet}`,
      `--cert-dir=${join(DIR.kubelet, 'pki')}`,
      `--node-ip=${NODE_IP}`,
      `--hostname-override=${NODE}`,
      '--v=1',
    ],
  });
}

export async function waitKubeletHealthy(): Promise<void> {
  await waitDaemon(
    'kubelet',
    'kubelet healthz',
    () => {
      try {
        return kubectl(['get', '--raw', `/api/v1/nodes/${NODE}/proxy/healthz`], { timeoutMs: 5000 }).trim() === 'ok';
      } catch {
        return false;
      }
    },
    120_000,
  );
}

/** The VolumeSnapshot CRDs and the snapshot-controller: cluster prerequisites of a snapshot install (daemonset/README.md). */
function installSnapshotPrerequisites(): void {
  for (const f of readdirSync(BIN.snapshotCrds)
    .filter((x) => x.endsWith('.yaml'))
    .sort()) {
    kubectl(['apply', '--server-side', '-f', join(BIN.snapshotCrds, f)]);
  }
  apply(readFileSync(join(import.meta.dirname, '..', 'snapshot-controller.yaml'), 'utf8').replaceAll('SNAPSHOT_CONTROLLER_IMAGE', IMAGES.snapshotController));
}

export interface StartTimes {
  imagesMs: number;
  controlPlaneMs: number;
  nodeRegisteredMs: number;
  totalMs: number;
}

export async function startCluster(): Promise<StartTimes> {
  for (const b of [
    BIN.etcd,
    BIN.apiserver,
    BIN.controllerManager,
    BIN.scheduler,
    BIN.kubelet,
    BIN.kubectl,
    BIN.containerd,
    BIN.ctr,
    BIN.runc,
    join(BIN.refCni, 'loopback'),
  ])
    need(b);
  if (hasRecord() || knownDaemons().length) stopCluster();
  const t0 = Date.now();
  setupHost();
  makePki();
  writeRefConflist();
  startContainerd();
  startEtcd();
  const images = buildImages();
  images.catch(() => {
    /* awaited below */
  });
  await waitDaemon('etcd', 'etcd health', () => {
    try {
      return JSON.parse(execFileSync('curl', ['-s', '--max-time', '2', 'http://127.0.0.1:2379/health'], { encoding: 'utf8' })).health === 'true';
    } catch {
      return false;
    }
  });
  startApiserver();
  await waitDaemon('kube-apiserver', 'kube-apiserver /readyz', () => tryKubectl(['get', '--raw', '/readyz'], { timeoutMs: 5000 })?.trim() === 'ok');
  startControllers();
  const controlPlaneMs = Date.now() - t0;
  await waitDaemon('containerd', 'containerd socket', () => existsSync(CONTAINERD_SOCK));
  const tImg = Date.now();
  importImages(await images);
  const imagesMs = Date.now() - tImg;
  startKubelet();
  await waitDaemon(
    'kubelet',
    `Node ${NODE} with a podCIDR`,
    () => {
      const n = getJson(['node', NODE]);
      return Boolean(n.spec?.podCIDR);
    },
    120_000,
  );
  const nodeRegisteredMs = Date.now() - t0;
  installSnapshotPrerequisites();
  return { imagesMs, controlPlaneMs, nodeRegisteredMs, totalMs: Date.now() - t0 };
}

/** Processes that belong to this node but were not started by us directly: containerd's shims (they name our socket). */
function shimPids(): number[] {
  const pids: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      if (cmd.includes(CONTAINERD_SOCK)) pids.push(Number(d));
    } catch {
      /* exited */
    }
  }
  return pids;
}

let stopping = false;
/** Synchronous, idempotent teardown of everything startCluster made. */
export function stopCluster(opts: { drainPods?: boolean } = {}): void {
  if (stopping) return;
  stopping = true;
  try {
    const apiUp = daemonPid('kube-apiserver') !== undefined && daemonPid('kubelet') !== undefined;
    if (opts.drainPods !== false && apiUp) drainPods();
    for (const name of ['kubelet', 'kube-scheduler', 'kube-controller-manager', 'kube-apiserver', 'etcd']) stopDaemon(name);
    if (daemonPid('containerd') !== undefined) {
      // Tasks first, so no shim outlives its containerd.
      try {
        for (const t of ctr(['tasks', 'ls', '-q'], 10_000).split('\n').filter(Boolean)) {
          try {
            ctr(['tasks', 'kill', '-s', 'SIGKILL', t], 10_000);
          } catch {
            /* gone */
          }
        }
      } catch {
        /* not answering */
      }
    }
    stopDaemon('containerd');
    for (const name of knownDaemons()) stopDaemon(name);
    for (const pid of [...shimPids(), ...pidsInCgroups()]) if (alive(pid)) killPid(pid, 2000);
    sleepSync(200);
    restoreHost();
  } finally {
    stopping = false;
  }
}

/** Lets the kubelet take every pod down (CNI DEL, unmounts) and the driver delete its volumes, before anything stops. */
function drainPods(): void {
  const k = (args: string[]) => tryKubectl(args, { timeoutMs: 30_000 });
  const userNs = (k(['get', 'namespaces', '-o', 'jsonpath={.items[*].metadata.name}']) ?? '')
    .split(' ')
    .filter((n) => n && !['hostplane', 'kube-system', 'kube-public', 'kube-node-lease', 'default'].includes(n));
  const waitEmpty = (args: string[], ms: number) => {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      const left = k(args);
      if (left !== undefined && left.trim() === '') return;
      sleepSync(500);
    }
  };
  // Workloads first, while the hostplane pod still serves CNI DEL and CSI unpublish.
  for (const ns of [...userNs, 'default']) {
    k(['-n', ns, 'delete', 'deployment,replicaset,statefulset,job', '--all', '--wait=false']);
    k(['-n', ns, 'delete', 'pods', '--all', '--grace-period=1', '--wait=false']);
  }
  waitEmpty(['get', 'pods', '--all-namespaces', '-o', 'name', '--field-selector=metadata.namespace!=hostplane,metadata.namespace!=kube-system'], 60_000);
  // Then claims, so the driver deletes the images (reclaimPolicy Delete).
  k(['delete', 'volumesnapshot,pvc', '--all', '--all-namespaces', '--wait=false']);
  waitEmpty(['get', 'pv', '-o', 'name'], 30_000);
  k(['delete', 'daemonset,deployment', '--all', '--all-namespaces', '--wait=false']);
  k(['delete', 'pods', '--all', '--all-namespaces', '--grace-period=1', '--wait=false']);
  waitEmpty(['get', 'pods', '--all-namespaces', '-o', 'name'], 60_000);
}

export { KUBECONFIG };
