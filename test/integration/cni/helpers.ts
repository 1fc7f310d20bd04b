// Shared by the CNI integration and conformance tests: the built plugin run as
// a runtime runs it (minimal environment, no node on PATH), throwaway netns.
import { spawn, execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

export const ROOT = join(import.meta.dirname, '..', '..', '..');
export const PLUGIN_DIR = join(ROOT, 'dist', 'cni');
export const PLUGIN = join(PLUGIN_DIR, 'hostplane');
// The reference plugins v1.10.0 (scripts/setup.sh builds them from the Go module proxy; Debian's 1.1.1 refuses cniVersion 1.1.0).
export const REF_DIR = '/opt/hostplane-ref/cni-plugins-v1.10.0';

/** npm test builds first; a lone `vitest run` of these files builds only when dist is missing. */
export function ensureBuilt(): void {
  if (!existsSync(PLUGIN)) execFileSync(join(ROOT, 'node_modules', '.bin', 'node'), [join(ROOT, 'scripts', 'build.ts')], { cwd: ROOT, stdio: 'inherit' });
}

export interface PluginRun {
  code: number | null;
  out: Record<string, unknown> | undefined;
  stdout: string;
  stderr: string;
}

export interface Call {
  containerId?: string;
  netns?: string;
  ifname?: string;
  args?: string;
  env?: Record<string, string>;
}

export function cniEnv(cmd: string, c: Call): Record<string, string> {
  const env: Record<string, string> = { CNI_COMMAND: cmd, CNI_PATH: `${PLUGIN_DIR}:${REF_DIR}` };
  if (c.containerId !== undefined) env.CNI_CONTAINERID = c.containerId;
  if (c.netns !== undefined) env.CNI_NETNS = c.netns;
  env.CNI_IFNAME = c.ifname ?? 'eth0';
  if (c.args) env.CNI_ARGS = c.args;
  return { ...env, ...c.env };
}

/**
 * Run an executable the way a runtime runs a CNI plugin: the env given, the
 * config on stdin, stdout parsed as the reply. A spawn failure (ETXTBSY,
 * ENOEXEC) is a result (code -1), not a test crash.
 */
export function runExecutable(file: string, args: string[], env: NodeJS.ProcessEnv, conf: string | object): Promise<PluginRun> {
  return new Promise((resolve) => {
    const p = spawn(file, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', (e) => resolve({ code: -1, out: undefined, stdout, stderr: `${stderr}spawn: ${e.message}` }));
    p.on('close', (code) => {
      let out: Record<string, unknown> | undefined;
      try {
        out = stdout.trim() ? JSON.parse(stdout) : undefined;
      } catch {
        out = undefined;
      }
      resolve({ code, out, stdout, stderr });
    });
    p.stdin.on('error', () => {});
    p.stdin.end(typeof conf === 'string' ? conf : JSON.stringify(conf));
  });
}

/** Run the plugin with only CNI_* in its environment: no PATH, no node. */
export function runPlugin(cmd: string, conf: string | object, c: Call = {}): Promise<PluginRun> {
  return runExecutable(PLUGIN, [], cniEnv(cmd, c), conf);
}

export function sh(cmd: string, args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Throwaway namespaces and scratch state, all removed by cleanup() even when a test failed. */
export class Sandbox {
  readonly tag: string;
  readonly dataDir: string;
  private readonly nss: string[] = [];
  private readonly links: string[] = [];
  private readonly nftIds: string[] = [];
  constructor(tag: string) {
    this.tag = `${tag}${process.pid % 1000}`;
    this.dataDir = mkdtempSync(join(tmpdir(), `hp-${tag}-`));
    // Network safety: pods on this sandbox's bridges may get a default route
    // (isDefaultGateway is a feature under test), so nothing they send is ever
    // forwarded off those bridges, out of the machine's own interface.
    const guard = spawnSync('nft', ['-f', '-'], {
      input: `table inet ${this.guardTable} {\n  chain forward {\n    type filter hook forward priority filter; policy accept;\n    iifname "${this.tag}*" oifname != "${this.tag}*" drop\n  }\n}\n`,
      encoding: 'utf8',
    });
    if (guard.status !== 0) throw new Error(`nft guard for ${this.tag}: ${guard.stderr}`);
  }
  private get guardTable(): string {
    return `hpguard_${this.tag}`;
  }
  netns(i: number | string): string {
    const name = `${this.tag}-${i}`;
    sh('ip', ['netns', 'del', name]);
    const r = sh('ip', ['netns', 'add', name]);
    if (r.code !== 0) throw new Error(`ip netns add ${name}: ${r.stderr}`);
    this.nss.push(name);
    return `/var/run/netns/${name}`;
  }
  bridge(suffix = 'br'): string {
    const b = `${this.tag}${suffix}`.slice(0, 15);
    this.links.push(b);
    return b;
  }
  nft(id: string): void {
    this.nftIds.push(id);
  }
  /** The addresses the IPAM holds for network `net` (one lease file each; dot-files are its temp and lock files). */
  leases(net: string): string[] {
    const d = join(this.dataDir, net);
    return existsSync(d) ? readdirSync(d).filter((f) => !f.startsWith('.')) : [];
  }
  cleanup(): void {
    for (const n of this.nss) sh('ip', ['netns', 'del', n]);
    for (const l of this.links) sh('ip', ['link', 'del', l]);
    for (const id of this.nftIds) {
      sh('nft', ['delete', 'chain', 'inet', 'hostplane', id]);
      sh('nft', ['delete', 'set', 'inet', 'hostplane', `${id}_4`]);
      sh('nft', ['delete', 'set', 'inet', 'hostplane', `${id}_6`]);
    }
    sh('nft', ['delete', 'table', 'inet', this.guardTable]);
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

export function inNs(netns: string, cmd: string, args: string[]) {
  return sh('nsenter', [`--net=${netns}`, '--', cmd, ...args]);
}

export function ping(netns: string, addr: string): boolean {
  return inNs(netns, 'ping', ['-c', '1', '-W', '2', addr]).code === 0;
}
