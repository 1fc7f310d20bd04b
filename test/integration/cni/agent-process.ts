// A real `dist/hostplane agent` serving only CNI, for the tests that run the
// executable through the agent path: its own socket dir, IPAM dir, conf and
// bin dirs in a temp dir; killed (and its leftovers removed) by stop().
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { stringify } from 'yaml';
import { ROOT } from './helpers.ts';

export class AgentProcess {
  readonly dir: string;
  readonly socket: string;
  private readonly config: string;
  private child: ChildProcess | undefined;
  private log = '';
  port = 0;

  /** `ipamDirs`: where requests may keep leases (the sandbox's data dir). */
  constructor(opts: { ipamDirs: string[]; bridge: string; maxExecs?: number }) {
    this.dir = mkdtempSync(join(tmpdir(), 'hp-agent-cni-'));
    this.socket = join(this.dir, 'run', 'cni.sock');
    mkdirSync(join(this.dir, 'run'), { mode: 0o700 });
    this.config = join(this.dir, 'agent.yaml');
    writeFileSync(
      this.config,
      stringify({
        nodeName: 'cni-test',
        http: { address: '127.0.0.1', port: 0 },
        cni: {
          binDir: join(this.dir, 'bin'),
          confDir: join(this.dir, 'conf'),
          podCIDRs: ['10.254.254.0/24'],
          bridge: opts.bridge,
          ipamDataDir: opts.ipamDirs[0],
          portmap: false,
          server: { socket: this.socket, ipamDirs: opts.ipamDirs, ...(opts.maxExecs ? { maxExecs: opts.maxExecs } : {}) },
        },
        csi: { enabled: false },
        devicePlugin: { enabled: false },
      }),
    );
  }

  /** Resolves once the agent logged "agent started". */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const c = spawn(join(ROOT, 'dist', 'hostplane'), ['agent', '--config', this.config], { stdio: ['ignore', 'ignore', 'pipe'] });
      this.child = c;
      let buf = '';
      const timer = setTimeout(() => reject(new Error(`agent did not start in 30 s: ${this.log}`)), 30_000);
      c.stderr!.on('data', (b: Buffer) => {
        this.log += b.toString();
        buf += b.toString();
        for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          if (line.includes('"health and metrics server listening"')) this.port = JSON.parse(line).port;
          if (line.includes('"agent started"')) {
            clearTimeout(timer);
            resolve();
          }
        }
      });
      c.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`agent exited ${code}: ${this.log}`));
      });
    });
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The agent's log lines (JSON) so far. */
  lines(): Record<string, unknown>[] {
    return this.log
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  /** Requests the agent answered (its one line per request), optionally of one command. */
  served(cmd?: string): Record<string, unknown>[] {
    return this.lines().filter((l) => l.msg === 'cni request' && (cmd === undefined || l.cmd === cmd));
  }

  async metrics(): Promise<string> {
    const r = await fetch(`http://127.0.0.1:${this.port}/metrics`);
    return r.text();
  }

  /** SIGKILL (no cleanup: the test of a crash) or SIGTERM (a rolling update); resolves when it exited. */
  kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      c.once('exit', () => resolve());
      c.kill(signal);
    });
  }

  async stop(): Promise<void> {
    await this.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Poll until `f` holds (the agent's DEL teardown runs in the background). */
export async function eventually(f: () => boolean, ms = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
