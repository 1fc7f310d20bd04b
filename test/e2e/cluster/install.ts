// The install under test is exactly the user's: `kubectl apply -k` of
// daemonset/ (through the e2e overlay), then wait for the DaemonSet Ready.
import { join } from 'node:path';
import { REPO, NODE } from './layout.ts';
import { kubectl, getJson, waitFor } from './kube.ts';

export const OVERLAY = join(REPO, 'test', 'e2e', 'overlay');

export function daemonSetReady(): boolean {
  const ds = getJson(['-n', 'hostplane', 'daemonset', 'hostplane']);
  const s = ds.status ?? {};
  return (
    s.observedGeneration === ds.metadata.generation &&
    s.desiredNumberScheduled >= 1 &&
    s.numberReady === s.desiredNumberScheduled &&
    s.updatedNumberScheduled === s.desiredNumberScheduled &&
    (s.numberUnavailable ?? 0) === 0
  );
}

export function nodeReady(): boolean {
  const n = getJson(['node', NODE]);
  return n.status?.conditions?.find((c: any) => c.type === 'Ready')?.status === 'True';
}

/** Applies the overlay and waits for the DaemonSet and the Node to be Ready; returns the ms it took. */
export async function install(timeoutMs = 240_000): Promise<number> {
  const t0 = Date.now();
  kubectl(['apply', '-k', OVERLAY]);
  await waitFor('DaemonSet hostplane/hostplane Ready', () => daemonSetReady(), timeoutMs);
  await waitFor(`Node ${NODE} Ready`, () => nodeReady(), timeoutMs);
  return Date.now() - t0;
}

/** For files after the install test: (re)install when needed (the uninstall test removes it). */
export async function ensureInstalled(): Promise<void> {
  let ok = false;
  try {
    ok = daemonSetReady() && nodeReady();
  } catch {
    /* not installed */
  }
  if (!ok) await install();
}

/** The running hostplane pod's name. */
export function hostplanePod(): string {
  const pods = getJson(['-n', 'hostplane', 'pods', '-l', 'app.kubernetes.io/name=hostplane']).items.filter(
    (p: any) => !p.metadata.deletionTimestamp && p.status?.phase === 'Running',
  );
  if (pods.length !== 1) throw new Error(`expected one running hostplane pod, found ${pods.length}`);
  return pods[0].metadata.name;
}
