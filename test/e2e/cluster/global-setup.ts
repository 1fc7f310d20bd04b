// vitest globalSetup for the e2e project: one node for all e2e files (run
// one at a time), torn down after the last file, and also on SIGINT/SIGTERM
// or any other exit of the vitest process (stopCluster is synchronous).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startCluster, stopCluster } from './cluster.ts';
import { leftovers } from './host.ts';
import { DIR } from './layout.ts';
import { daemonPid } from './daemon.ts';

let started = false;
const safetyNet = () => {
  if (started) {
    started = false;
    stopCluster();
  }
};

export default async function setup(): Promise<() => void> {
  // HOSTPLANE_E2E_REUSE=1: run the files against a node started by hand
  // (node test/e2e/cluster/cli.ts start), leaving it up afterwards.
  if (process.env.HOSTPLANE_E2E_REUSE === '1' && daemonPid('kube-apiserver') !== undefined) return () => {};
  process.once('exit', safetyNet);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      safetyNet();
      process.exit(130);
    });
  }
  started = true;
  try {
    const t = await startCluster();
    writeFileSync(join(DIR.logs, 'start-times.json'), JSON.stringify(t));
    process.stderr.write(
      `[e2e] node up in ${(t.totalMs / 1000).toFixed(1)} s (control plane ${(t.controlPlaneMs / 1000).toFixed(1)} s, images ${(t.imagesMs / 1000).toFixed(1)} s, node registered ${(t.nodeRegisteredMs / 1000).toFixed(1)} s)\n`,
    );
  } catch (e) {
    safetyNet();
    throw e;
  }
  return () => {
    const t0 = Date.now();
    safetyNet();
    const left = leftovers();
    process.stderr.write(
      `[e2e] teardown in ${((Date.now() - t0) / 1000).toFixed(1)} s${left.length ? `; LEFT BEHIND: ${left.join(', ')}` : ', nothing left behind'}\n`,
    );
    if (left.length) throw new Error(`e2e teardown left: ${left.join(', ')}`);
  };
}
