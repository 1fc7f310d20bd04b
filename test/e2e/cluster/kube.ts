// kubectl against the e2e node (admin kubeconfig), and waits on what a user
// would watch: conditions, phases, fields. Waits poll observable state with
// generous bounds (two busy cores), never bare sleeps.
import { execFileSync, spawnSync } from 'node:child_process';
import { BIN, KUBECONFIG } from './layout.ts';

export function kubectl(args: string[], opts: { input?: string; timeoutMs?: number } = {}): string {
  const r = spawnSync(BIN.kubectl, ['--kubeconfig', KUBECONFIG, ...args], {
    encoding: 'utf8',
    input: opts.input,
    timeout: opts.timeoutMs ?? 120_000,
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.status ?? r.signal}): ${(r.stderr || r.stdout || '').trim()}`);
  return r.stdout;
}

export function tryKubectl(args: string[], opts: { input?: string; timeoutMs?: number } = {}): string | undefined {
  try {
    return kubectl(args, opts);
  } catch {
    return undefined;
  }
}

export function apply(yaml: string): string {
  return kubectl(['apply', '-f', '-'], { input: yaml });
}

export function getJson<T = any>(args: string[]): T {
  return JSON.parse(kubectl(['get', ...args, '-o', 'json'])) as T;
}

export async function waitFor<T>(what: string, probe: () => T | undefined | false, timeoutMs = 120_000, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = probe();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Runs a command in a pod's container; returns { code, out }. */
export function exec(ns: string, pod: string, cmd: string[], container?: string): { code: number; out: string } {
  const r = spawnSync(BIN.kubectl, ['--kubeconfig', KUBECONFIG, '-n', ns, 'exec', pod, ...(container ? ['-c', container] : []), '--', ...cmd], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

export function podPhase(ns: string, name: string): string | undefined {
  try {
    return (JSON.parse(kubectl(['-n', ns, 'get', 'pod', name, '-o', 'json'])) as { status?: { phase?: string } }).status?.phase;
  } catch {
    return undefined;
  }
}

export async function waitRunning(ns: string, name: string, timeoutMs = 120_000): Promise<any> {
  return waitFor(
    `pod ${ns}/${name} Running`,
    () => {
      const p = getJson(['-n', ns, 'pod', name]);
      if (p.status?.phase === 'Failed') throw new Error(`pod ${name} failed: ${JSON.stringify(p.status)}`);
      const ready = p.status?.conditions?.find((c: any) => c.type === 'Ready')?.status === 'True';
      return p.status?.phase === 'Running' && ready ? p : undefined;
    },
    timeoutMs,
  );
}

/** Creates a namespace and waits for its default ServiceAccount (pods are refused until it exists). */
export async function namespace(name: string): Promise<void> {
  apply(`apiVersion: v1\nkind: Namespace\nmetadata: { name: ${name} }\n`);
  await waitFor(`ServiceAccount ${name}/default`, () => tryKubectl(['-n', name, 'get', 'serviceaccount', 'default']) !== undefined, 60_000);
}

export function deleteNamespace(name: string): void {
  tryKubectl(['delete', 'namespace', name, '--ignore-not-found', '--wait=true', '--timeout=120s'], { timeoutMs: 150_000 });
}

export { execFileSync };
