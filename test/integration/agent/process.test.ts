// The built `dist/hostplane agent` as a real process: a bad config is refused
// naming the field; a good one starts every component (CSI socket answers
// Probe, device plugin sockets appear, /healthz and /metrics answer); SIGTERM
// ends it with exit 0, leaving the CNI files in place.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { stringify } from 'yaml';
import { csiClient } from '../csi/client.ts';
import { agentTestConfig } from '../../support/agent-config.ts';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const BIN = join(ROOT, 'dist', 'hostplane');
let dir: string;
let child: ChildProcess | undefined;

beforeAll(() => {
  if (!existsSync(BIN) || !existsSync(join(ROOT, 'dist', 'cni', 'hostplane'))) execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' });
  dir = mkdtempSync(join(tmpdir(), 'hp-agent-proc-'));
});
afterAll(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function writeConfig(doc: unknown): string {
  const file = join(dir, `agent-${Math.random().toString(16).slice(2)}.yaml`);
  writeFileSync(file, stringify(doc));
  return file;
}

/** Start the agent; resolves with the port once it logs "agent started". */
function start(file: string): Promise<{ port: number; stderr: () => string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(BIN, ['agent', '--config', file], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = c;
    let err = '';
    let port = 0;
    c.stderr!.on('data', (b: Buffer) => {
      err += b.toString();
      for (const line of err.split('\n')) {
        if (line.includes('"health and metrics server listening"')) port = JSON.parse(line).port;
        if (line.includes('"agent started"')) resolve({ port, stderr: () => err });
      }
    });
    c.on('exit', (code) => reject(new Error(`agent exited ${code}: ${err}`)));
    setTimeout(() => reject(new Error(`agent did not start in 20 s: ${err}`)), 20_000).unref();
  });
}

describe('hostplane agent (process)', () => {
  it('refuses a bad config with exit 2, naming the field', () => {
    const file = writeConfig({ cni: { mtu: 'big', podCIDRs: ['10.0.0.0/24'] }, devicePlugin: { enabled: false } });
    let status = 0;
    let stderr = '';
    try {
      execFileSync(BIN, ['agent', '--config', file], { stdio: 'pipe' });
    } catch (e) {
      status = (e as { status: number }).status;
      stderr = String((e as { stderr: Buffer }).stderr);
    }
    expect(status).toBe(2);
    expect(stderr).toMatch(/cni\.mtu: must be an integer/);
  });

  it('serves CSI, device plugins, /healthz and /metrics, and exits 0 on SIGTERM leaving the CNI files', async () => {
    const file = writeConfig(agentTestConfig(dir, { nodeName: 'proc-node', cni: { podCIDRs: ['10.77.0.0/24'] }, resource: 'hostplane.dev/null' }));
    const { port } = await start(file);
    expect(await (await fetch(`http://127.0.0.1:${port}/healthz`)).text()).toBe('ok\n');
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);

    const csi = csiClient(join(dir, 'csi', 'csi.sock'));
    try {
      expect(await csi.identity.Probe!({})).toMatchObject({ ready: { value: true } });
      expect((await csi.identity.GetPluginInfo!({})).name).toBe('csi.hostplane.io');
    } finally {
      csi.close();
    }
    expect(readdirSync(join(dir, 'device-plugins')).some((f) => f.endsWith('.sock'))).toBe(true);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toMatch(/hostplane_grpc_call_duration_seconds_count\{component="csi",method="[^"]*Probe",code="OK"\} [1-9]\d*/); // kubelet-style calls plus the liveness checks
    expect(metrics).toContain('hostplane_devices{resource="hostplane.dev/null",health="Healthy"} 1');

    child!.removeAllListeners('exit');
    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
    child!.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(existsSync(join(dir, 'net.d', '10-hostplane.conflist'))).toBe(true);
    expect(existsSync(join(dir, 'cni-bin', 'hostplane'))).toBe(true);
  });
});
