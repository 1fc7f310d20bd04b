// Pod-to-Running latency through a real kubelet: our CNI (the installed
// DaemonSet's conflist) against the reference bridge + host-local plugins
// v1.10.0 (a RuntimeClass whose containerd handler reads its own conf dir),
// interleaved in one run on the same node. Time = create request sent →
// the watch reports the pod Running and Ready. Needs the e2e test bed
// (bash test/e2e/build-tools.sh) and root.
//   node test/bench/pod-latency.ts [rounds]    (npm run bench pod-latency)
import { request } from 'node:https';
import { readFileSync } from 'node:fs';
import { startCluster, stopCluster } from '../e2e/cluster/cluster.ts';
import { install } from '../e2e/cluster/install.ts';
import { apply, kubectl, namespace } from '../e2e/cluster/kube.ts';
import { REF_HANDLER } from '../e2e/cluster/config-files.ts';
import { IMAGES } from '../e2e/cluster/layout.ts';
import { pki, APISERVER_URL } from '../e2e/cluster/pki.ts';
import { median, percentile, fmtMs, nowMs } from './stats.ts';

const ROUNDS = Number(process.argv[2] ?? 20);
const NS = 'bench';
const tls = () => ({ ca: readFileSync(pki('ca.crt')), cert: readFileSync(pki('admin.crt')), key: readFileSync(pki('admin.key')) });

function api(method: string, path: string, body?: unknown): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, APISERVER_URL), { method, ...tls(), headers: { 'content-type': 'application/json' } }, (res) => {
      let data = '';
      res.on('data', (c: Buffer) => {
        data += c.toString();
      });
      res.on('end', () => (res.statusCode! >= 300 ? reject(new Error(`${method} ${path}: ${res.statusCode} ${data}`)) : resolve(JSON.parse(data || '{}'))));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** Resolves when the watch sees `name` Running with every container ready. */
function watchRunning(name: string): { done: Promise<number>; close: () => void } {
  let close = () => {};
  const done = new Promise<number>((resolve, reject) => {
    const req = request(new URL(`/api/v1/namespaces/${NS}/pods?watch=1&fieldSelector=metadata.name%3D${name}`, APISERVER_URL), { ...tls() }, (res) => {
      let buf = '';
      res.on('data', (c: Buffer) => {
        buf += c.toString();
        for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
          const ev = JSON.parse(buf.slice(0, nl)) as { object: any };
          buf = buf.slice(nl + 1);
          const st = ev.object?.status;
          if (st?.phase === 'Running' && st.containerStatuses?.every((c: any) => c.ready)) resolve(nowMs());
          if (st?.phase === 'Failed') reject(new Error(`${name} failed`));
        }
      });
    });
    req.on('error', () => {
      /* closed */
    });
    req.end();
    close = () => req.destroy();
  });
  return { done, close };
}

async function onePod(name: string, runtimeClass?: string): Promise<number> {
  const w = watchRunning(name);
  await new Promise((r) => setTimeout(r, 50)); // the watch is established
  const t0 = nowMs();
  await api('POST', `/api/v1/namespaces/${NS}/pods`, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: {
      ...(runtimeClass ? { runtimeClassName: runtimeClass } : {}),
      terminationGracePeriodSeconds: 0,
      containers: [{ name: 'c', image: IMAGES.busybox, command: ['sleep', '100000'] }],
    },
  });
  const t1 = await Promise.race([w.done, new Promise<number>((_, rej) => setTimeout(() => rej(new Error(`${name} not Running after 120 s`)), 120_000))]);
  w.close();
  kubectl(['-n', NS, 'delete', 'pod', name, '--grace-period=0', '--wait=true']);
  return t1 - t0;
}

const log = (m: string) => process.stderr.write(`[pod-latency] ${m}\n`);

async function main(): Promise<void> {
  // HOSTPLANE_E2E_REUSE=1: a node started by hand (test/e2e/cluster/cli.ts start) is used and left up.
  const reuse = process.env.HOSTPLANE_E2E_REUSE === '1';
  if (!reuse) {
    for (const sig of ['SIGINT', 'SIGTERM'] as const)
      process.once(sig, () => {
        stopCluster();
        process.exit(130);
      });
    log('starting the node');
    await startCluster();
  }
  try {
    log('installing');
    await install();
    apply(`apiVersion: node.k8s.io/v1\nkind: RuntimeClass\nmetadata: { name: ${REF_HANDLER} }\nhandler: ${REF_HANDLER}\n`);
    await namespace(NS);
    // Warm-up: one of each (image unpack, first bridge creation).
    log('warm-up');
    await onePod('warm-ours');
    await onePod('warm-ref', REF_HANDLER);
    const ours: number[] = [];
    const ref: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      // Alternate which goes first, so neither always follows the other's teardown.
      if (i % 2 === 0) {
        ours.push(await onePod(`ours-${i}`));
        ref.push(await onePod(`ref-${i}`, REF_HANDLER));
      } else {
        ref.push(await onePod(`ref-${i}`, REF_HANDLER));
        ours.push(await onePod(`ours-${i}`));
      }
    }
    const line = (label: string, s: number[]) =>
      `${label.padEnd(40)} median ${fmtMs(median(s)).padStart(9)}  p90 ${fmtMs(percentile(s, 90)).padStart(9)}  (n=${s.length})`;
    process.stdout.write(`${line('pod to Running, hostplane CNI', ours)}\n${line('pod to Running, reference bridge v1.10.0', ref)}\n`);
    process.stdout.write(`ratio hostplane/reference (medians): ${(median(ours) / median(ref)).toFixed(2)}\n`);
  } finally {
    if (!reuse) stopCluster();
  }
}

// Exit once the figures are out: the API server's keep-alive sockets would
// otherwise hold the process (and npm run bench) open after the cluster is gone.
main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`pod-latency bench failed: ${(e as Error).stack}\n`);
    process.exit(1);
  },
);
