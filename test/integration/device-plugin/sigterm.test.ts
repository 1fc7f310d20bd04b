// The built binary, as the DaemonSet runs it: `dist/hostplane device-plugin`.
// SIGTERM must first send an empty device list, then remove its sockets;
// a bad config must exit non-zero with a message naming the field.
import { describe, it, expect, beforeAll, beforeEach, afterEach } from 'vitest';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FakeKubelet } from '../../support/fake-kubelet.ts';
import { socketName } from '../../../device-plugin/resource-runner.ts';
import { cdiSpecPath } from '../../../device-plugin/cdi.ts';
import { makeEnv, type TestEnv } from './env.ts';

const repo = join(import.meta.dirname, '..', '..', '..');
// HOSTPLANE_BIN lets a developer point at a fresh build elsewhere; CI builds dist/ first.
const BIN = process.env.HOSTPLANE_BIN ?? join(repo, 'dist', 'hostplane');
const FUSE = 'hostplane.dev/fuse';

beforeAll(() => {
  if (!existsSync(BIN)) execFileSync('npm', ['run', 'build'], { cwd: repo, stdio: 'ignore' });
});

let env: TestEnv;
let kubelet: FakeKubelet | undefined;
let child: ChildProcess | undefined;
beforeEach(() => {
  env = makeEnv();
});
afterEach(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  await kubelet?.close();
  kubelet = undefined;
  child = undefined;
  env.cleanup();
});

function run(args: string[]): { proc: ChildProcess; exit: Promise<{ code: number | null; stderr: string }> } {
  const proc = spawn(BIN, ['device-plugin', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (b: Buffer) => {
    stderr += b.toString();
  });
  const exit = new Promise<{ code: number | null; stderr: string }>((res) => proc.on('exit', (code) => res({ code, stderr })));
  return { proc, exit };
}

describe('hostplane device-plugin (built binary)', () => {
  it('SIGTERM: an empty list reaches kubelet first, then the sockets are removed (the CDI spec stays)', async () => {
    writeFileSync(join(env.devDir, 'fuse'), '');
    env.writeConfig({ resources: [{ name: FUSE, devices: [{ path: `${env.devDir}/fuse` }] }] });
    kubelet = await FakeKubelet.start(env.kubeletDir);
    const { proc, exit } = run([
      '--config',
      env.configPath,
      '--kubelet-dir',
      env.kubeletDir,
      '--cdi-dir',
      env.cdiDir,
      '--sysfs-root',
      env.sysfs,
      '--plugins-registry',
      join(env.root, 'none'),
    ]);
    child = proc;
    await kubelet.waitFor(() => kubelet!.latest(FUSE)?.length === 1, 15_000, 'registration of the child');
    const sock = join(env.kubeletDir, socketName(FUSE));
    expect(existsSync(sock)).toBe(true);
    expect(existsSync(cdiSpecPath(env.cdiDir, FUSE))).toBe(true);

    let socketWhenEmpty: boolean | undefined;
    kubelet.on('update', (c) => {
      if (c.resource === FUSE && c.updates.at(-1)!.devices.length === 0 && socketWhenEmpty === undefined) socketWhenEmpty = existsSync(sock);
    });
    proc.kill('SIGTERM');
    await kubelet.waitFor(() => kubelet!.latest(FUSE)?.length === 0, 5000, 'empty list');
    const { code } = await exit;
    expect(code).toBe(0);
    expect(socketWhenEmpty).toBe(true);
    expect(existsSync(sock)).toBe(false);
    // Kept for containers of running pods that restart while the plugin is being upgraded.
    expect(existsSync(cdiSpecPath(env.cdiDir, FUSE))).toBe(true);
  });

  it('a bad config exits 2 with a message naming the field', async () => {
    env.writeConfig({
      resources: [
        { name: 'hostplane.dev/fuse', devices: [{ path: '/dev/fuse' }] },
        { name: 'kvm', devices: [{ path: '/dev/kvm' }] },
      ],
    });
    const { exit } = run(['--config', env.configPath, '--kubelet-dir', env.kubeletDir]);
    const { code, stderr } = await exit;
    expect(code).toBe(2);
    expect(stderr).toContain('resources[1].name: must be vendor.domain/resource');
    expect(existsSync(join(env.kubeletDir, socketName('hostplane.dev/fuse')))).toBe(false);
  });

  it('an unknown flag exits 2 with usage', async () => {
    const { exit } = run(['--config', env.configPath, '--kubelet-directory', '/x']);
    const { code, stderr } = await exit;
    expect(code).toBe(2);
    expect(stderr).toContain('--kubelet-directory');
    expect(stderr).toContain('usage: hostplane device-plugin');
  });
});
