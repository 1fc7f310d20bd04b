// Crash safety: SIGKILL the driver in the middle of CreateVolume (a clone
// copy), NodeStageVolume (during mkfs, and just after the mount) and
// CreateSnapshot (mid-copy, source mounted and frozen), restart it, retry.
// Nothing may leak (loop device, image, mount) and state must stay coherent.
//
// "The middle" is made deterministic with shims put first on the driver's
// PATH: when a flag file exists, the shim announces itself and stalls, and
// the test kills the driver right then (and the stalled shim with it).
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, readdirSync, existsSync, rmSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { spawnDriver, waitForSocket, killHard, MiB } from './harness.ts';
import { csiClient, mountCap, type CsiClient } from './client.ts';
import { cleanupHost, loopsUnder, mountsUnder } from './host.ts';
import { parseMountinfo } from '../../../csi/volumes/mounts.ts';

const SHIMMED = ['cp', 'mkfs.ext4', 'mount'];

function writeShims(dir: string): string {
  const shimDir = join(dir, 'shims');
  mkdirSync(shimDir);
  for (const name of SHIMMED) {
    const real = execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
    const after = name === 'mount'; // stall after the real mount: "mounted, but not yet recorded"
    writeFileSync(join(shimDir, name), [
      '#!/bin/sh',
      `if [ -e "${dir}/slow-${name}" ]; then`,
      after ? `  "${real}" "$@"; rc=$?` : '  rc=0',
      `  echo $$ > "${dir}/started-${name}"`,
      '  sleep 60',
      after ? '  exit $rc' : '',
      'fi',
      `exec "${real}" "$@"`,
    ].join('\n') + '\n');
    chmodSync(join(shimDir, name), 0o755);
  }
  return shimDir;
}

let dir: string;
let shimDir: string;
let driver: ChildProcess;
let client: CsiClient;

async function start(): Promise<void> {
  // The killed predecessor's socket is still there: wait for the new one.
  rmSync(join(dir, 'csi.sock'), { force: true });
  driver = spawnDriver(dir, { PATH: `${shimDir}:${process.env.PATH}` });
  await waitForSocket(join(dir, 'csi.sock'), driver);
  client = csiClient(join(dir, 'csi.sock'));
}

/** Run `call`, wait for the shim of `tool` to stall inside it, SIGKILL the driver, restart. */
async function crashDuring(tool: string, call: () => Promise<unknown>): Promise<void> {
  writeFileSync(join(dir, `slow-${tool}`), '');
  const pending = call().catch(() => undefined);
  const started = join(dir, `started-${tool}`);
  for (let i = 0; i < 400 && !existsSync(started); i++) await new Promise((r) => setTimeout(r, 25));
  expect(existsSync(started), `${tool} never ran`).toBe(true);
  rmSync(join(dir, `slow-${tool}`));
  await killHard(driver);
  try { process.kill(Number(readFileSync(started, 'utf8')), 'SIGKILL'); } catch { /* gone */ }
  rmSync(started);
  client.close();
  await pending;
  await start();
}

function state(kind: 'volumes' | 'snapshots'): { id: string; status: string; stage?: { path: string; complete: boolean } }[] {
  const d = join(dir, 'data', 'state', kind);
  if (!existsSync(d)) return [];
  return readdirSync(d).filter((f) => f.endsWith('.json') && !f.startsWith('.')).map((f) => JSON.parse(readFileSync(join(d, f), 'utf8')));
}

/** The invariants a crash must never break. */
function expectCoherent(): void {
  const vols = state('volumes');
  const snaps = state('snapshots');
  expect(vols.every((v) => v.status === 'ready')).toBe(true);
  expect(snaps.every((s) => s.status === 'ready')).toBe(true);
  expect(readdirSync(join(dir, 'data', 'images')).sort()).toEqual(vols.map((v) => `${v.id}.img`).sort());
  expect(readdirSync(join(dir, 'data', 'snapshots')).sort()).toEqual(snaps.map((s) => `${s.id}.img`).sort());
  const staged = vols.filter((v) => v.stage?.complete);
  expect(loopsUnder(dir)).toHaveLength(staged.length);
  const mounts = mountsUnder(dir);
  for (const m of mounts) expect(staged.some((v) => m === v.stage!.path || m.startsWith(join(dir, 'pods')))).toBe(true);
}

beforeEach(async () => {
  dir = mkdtempSync('/tmp/hp-csi-crash-');
  shimDir = writeShims(dir);
  await start();
});

afterEach(async () => {
  client?.close();
  if (driver) await killHard(driver);
  for (const f of readdirSync(dir).filter((n) => n.startsWith('started-'))) {
    try { process.kill(Number(readFileSync(join(dir, f), 'utf8')), 'SIGKILL'); } catch { /* gone */ }
  }
  cleanupHost(dir);
});

const caps = [mountCap()];
const stagingOf = (name: string) => { const p = join(dir, 'staging', name); mkdirSync(p, { recursive: true }); return p; };

describe('SIGKILL during CreateVolume', () => {
  it('mid-copy of a clone: rolled back at restart, the retry creates it once', async () => {
    const src = await client.controller.CreateVolume({ name: 'src', capacity_range: { required_bytes: 16 * MiB }, volume_capabilities: caps });
    const req = { name: 'clone', capacity_range: { required_bytes: 16 * MiB }, volume_capabilities: caps, volume_content_source: { volume: { volume_id: src.volume.volume_id } } };
    await crashDuring('cp', () => client.controller.CreateVolume(req));
    expectCoherent();
    expect(state('volumes')).toHaveLength(1);
    const again = await client.controller.CreateVolume(req);
    expect(again.volume.content_source.volume.volume_id).toBe(src.volume.volume_id);
    expect(state('volumes')).toHaveLength(2);
    expectCoherent();
  });
});

describe('SIGKILL during NodeStageVolume', () => {
  it.each([['mkfs.ext4', 'during mkfs'], ['mount', 'after the mount, before the record']])('%s (%s): loop detached and mount undone at restart; the retry stages once', async (tool) => {
    const { volume } = await client.controller.CreateVolume({ name: 'stage', capacity_range: { required_bytes: 32 * MiB }, volume_capabilities: caps });
    const staging = stagingOf('stage');
    const req = { volume_id: volume.volume_id, staging_target_path: staging, volume_capability: mountCap() };
    await crashDuring(tool, () => client.node.NodeStageVolume(req));
    expectCoherent();
    expect(loopsUnder(dir)).toEqual([]);
    expect(mountsUnder(dir)).toEqual([]);
    await client.node.NodeStageVolume(req);
    expect(loopsUnder(dir)).toHaveLength(1);
    expect(parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8')).filter((m) => m.target === staging)).toHaveLength(1);
    expectCoherent();
    await client.node.NodeUnstageVolume(req);
    await client.controller.DeleteVolume({ volume_id: volume.volume_id });
    expectCoherent();
    expect(loopsUnder(dir)).toEqual([]);
  });
});

describe('SIGKILL during CreateSnapshot', () => {
  it('mid-copy of a mounted (frozen) volume: rolled back, the filesystem thawed, the retry succeeds', async () => {
    const { volume } = await client.controller.CreateVolume({ name: 'snapsrc', capacity_range: { required_bytes: 32 * MiB }, volume_capabilities: caps });
    const staging = stagingOf('snapsrc');
    await client.node.NodeStageVolume({ volume_id: volume.volume_id, staging_target_path: staging, volume_capability: mountCap() });
    const req = { name: 'snap', source_volume_id: volume.volume_id };
    await crashDuring('cp', () => client.controller.CreateSnapshot(req));
    expectCoherent();
    expect(state('snapshots')).toEqual([]);
    // Thawed: a write completes (a frozen fs would block it forever).
    execFileSync('sh', ['-c', `echo ok > ${staging}/after-crash`], { timeout: 10_000 });
    const { snapshot } = await client.controller.CreateSnapshot(req);
    expect(snapshot.ready_to_use).toBe(true);
    expectCoherent();
    await client.controller.DeleteSnapshot({ snapshot_id: snapshot.snapshot_id });
    await client.node.NodeUnstageVolume({ volume_id: volume.volume_id, staging_target_path: staging });
    await client.controller.DeleteVolume({ volume_id: volume.volume_id });
    expectCoherent();
  });
});
