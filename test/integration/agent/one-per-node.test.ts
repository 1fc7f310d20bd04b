// One agent per node: a second `hostplane agent` (a botched upgrade, a manual
// run) must refuse to start, naming the first one's pid, and leave the first
// one serving. Two real processes of the built dist/hostplane; then the lock
// itself: released when its holder dies by SIGKILL.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { stringify } from 'yaml';
import { csiClient } from '../csi/client.ts';
import { lockDir, DirLockedError } from '../../../lib/flock.ts';
import { childrenOf } from '../../support/procs.ts';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const BIN = join(ROOT, 'dist', 'hostplane');
const NODE = join(ROOT, 'node_modules', '.bin', 'node');
let dir: string;
const children: ChildProcess[] = [];

beforeAll(() => {
  if (!existsSync(BIN)) execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' });
  dir = mkdtempSync(join(tmpdir(), 'hp-agent-one-'));
});
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function config(name: string, over: { csiData?: string; ipam?: string } = {}): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    stringify({
      nodeName: 'one-node',
      http: { address: '127.0.0.1', port: 0 },
      cni: {
        binDir: join(dir, 'cni-bin'),
        confDir: join(dir, 'net.d'),
        ipamDataDir: over.ipam ?? join(dir, 'ipam'),
        podCIDRs: ['10.78.0.0/24'],
        server: { socket: join(dir, name, 'cni.sock') },
      },
      csi: { endpoint: `unix://${dir}/csi/csi.sock`, dataDir: over.csiData ?? join(dir, 'csi-data'), pluginsRegistry: join(dir, 'registry') },
      devicePlugin: { enabled: false },
    }),
  );
  return file;
}

/** Run the agent; resolves on "agent started" or on exit (with its stderr). */
function run(file: string): Promise<{ started: boolean; code: number | null; stderr: string; child: ChildProcess }> {
  return new Promise((resolve, reject) => {
    const c = spawn(BIN, ['agent', '--config', file], { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(c);
    let err = '';
    c.stderr!.on('data', (b: Buffer) => {
      err += b.toString();
      if (err.includes('"agent started"')) resolve({ started: true, code: null, stderr: err, child: c });
    });
    c.on('exit', (code) => resolve({ started: false, code, stderr: err, child: c }));
    setTimeout(() => reject(new Error(`agent neither started nor exited in 20 s: ${err}`)), 20_000).unref();
  });
}

describe('one agent per node', () => {
  it("a second agent on the same node exits 1 naming the first one's pid; the first keeps serving", async () => {
    const first = await run(config('first'));
    expect(first.started, first.stderr).toBe(true);

    const second = await run(config('second'));
    expect(second.started).toBe(false);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`${join(dir, 'csi-data')} is locked by another hostplane process (pid ${first.child.pid})`);

    // Other state dirs, same CSI socket: the live socket is not taken over.
    const third = await run(config('third', { csiData: join(dir, 'csi-data-3'), ipam: join(dir, 'ipam-3') }));
    expect(third.started).toBe(false);
    expect(third.code).toBe(1);
    expect(third.stderr).toMatch(/csi\.sock is served by another live process/);

    const csi = csiClient(join(dir, 'csi', 'csi.sock'));
    try {
      expect(await csi.identity.Probe!({})).toMatchObject({ ready: { value: true } });
    } finally {
      csi.close();
    }

    // Once the first is gone (SIGKILL: no clean release), a new agent starts.
    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));
    const next = await run(config('next'));
    expect(next.started, next.stderr).toBe(true);
    const exited = new Promise((r) => next.child.once('exit', r));
    next.child.kill('SIGTERM');
    await exited;
  });

  it('the lock names its holder and is released when the holder is SIGKILLed', async () => {
    const locked = join(dir, 'locked');
    const holder = spawn(
      NODE,
      [
        '-e',
        `import(${JSON.stringify(join(ROOT, 'lib', 'flock.ts'))}).then((m) => m.lockDir(${JSON.stringify(locked)})).then(() => { console.log('locked'); setInterval(() => {}, 1000); })`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    children.push(holder);
    await new Promise<void>((resolve) => holder.stdout!.once('data', () => resolve()));
    const refused = await lockDir(locked).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(DirLockedError);
    expect((refused as DirLockedError).holderPid).toBe(holder.pid);
    // The lock costs no process: nothing runs on the holder's behalf to keep it.
    expect(childrenOf(holder.pid!)).toEqual([]);
    holder.kill('SIGKILL');
    await new Promise((r) => holder.once('exit', r));
    // The kernel closes the dead holder's descriptor, and with its last one the lock goes.
    let lock: Awaited<ReturnType<typeof lockDir>> | undefined;
    for (let i = 0; i < 100 && !lock; i++) {
      lock = await lockDir(locked).catch(() => undefined);
      if (!lock) await new Promise((r) => setTimeout(r, 50));
    }
    expect(lock).toBeDefined();
    await lock!.release();
  });
});
