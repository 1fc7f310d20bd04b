// Growing a mounted ext4, on the real kernel, both branches. The kernel grows
// a mounted ext4 only for a caller holding CAP_SYS_RESOURCE.
// - Without it: the driver process is started with the capability dropped from
//   its bounding, inheritable and ambient sets (setpriv, util-linux), so this
//   branch runs on every machine, whatever root holds.
// - With it: only where the test's own root holds it. The development VMs'
//   root does not (its bounding set lacks it, so nothing can raise it); there
//   the test is skipped, saying so, and test/unit/csi/ext4-growth.test.ts
//   proves the driver's side of that branch through the Filesystems seam.
import { describe, it, expect, afterEach } from 'vitest';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnDriver, waitForSocket, killHard, MiB } from './harness.ts';
import { csiClient, codeOf, mountCap, type CsiClient, deleteVolumeRetrying } from './client.ts';
import { cleanupHost, mountsUnder } from './host.ts';
import { liveLoopsUnder } from './live-loops.ts';

const CAP_SYS_RESOURCE = 24n;
const capsOf = (pid: number | 'self', set: 'CapEff' | 'CapBnd') =>
  BigInt(`0x${new RegExp(`${set}:\\s*([0-9a-f]+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]}`);
const holds = (mask: bigint) => ((mask >> CAP_SYS_RESOURCE) & 1n) === 1n;
const testRootHasIt = holds(capsOf('self', 'CapEff'));

let dir: string;
let driver: ChildProcess | undefined;
let client: CsiClient | undefined;
afterEach(async () => {
  client?.close();
  if (driver) await killHard(driver);
  driver = undefined;
  if (dir) cleanupHost(dir);
});

const dfSize = (p: string) => Number(execFileSync('df', ['-B1', '--output=size', p], { encoding: 'utf8' }).split('\n')[1]);

async function start(prefix: string, dropCapSysResource: boolean): Promise<CsiClient> {
  dir = mkdtempSync(`/tmp/hp-csi-${prefix}-`);
  const wrapper = dropCapSysResource ? ['setpriv', '--inh-caps=-sys_resource', '--ambient-caps=-sys_resource', '--bounding-set=-sys_resource', '--'] : [];
  driver = spawnDriver(dir, {}, { wrapper });
  await waitForSocket(join(dir, 'csi.sock'), driver);
  // The capability the driver really runs with (setpriv execs node in place: same pid).
  expect(holds(capsOf(driver.pid!, 'CapEff'))).toBe(!dropCapSysResource && testRootHasIt);
  client = csiClient(join(dir, 'csi.sock'));
  return client;
}

/** A 64 MiB ext4 volume, staged and published, with a file in it, then grown to 256 MiB by the controller. */
async function publishedAndExpanded(c: CsiClient, name: string) {
  const { volume } = await c.controller.CreateVolume({ name, capacity_range: { required_bytes: 64 * MiB }, volume_capabilities: [mountCap()] });
  const id = volume.volume_id as string;
  const staging = join(dir, 'staging', name);
  const target = join(dir, 'pods', name, 'vol');
  mkdirSync(staging, { recursive: true });
  await c.node.NodeStageVolume({ volume_id: id, staging_target_path: staging, volume_capability: mountCap() });
  await c.node.NodePublishVolume({ volume_id: id, staging_target_path: staging, target_path: target, volume_capability: mountCap() });
  writeFileSync(join(target, 'data'), 'kept');
  const before = dfSize(target);
  const r = await c.controller.ControllerExpandVolume({ volume_id: id, capacity_range: { required_bytes: 256 * MiB } });
  expect(r).toMatchObject({ capacity_bytes: 256 * MiB, node_expansion_required: true });
  return { id, staging, target, before };
}

async function teardown(c: CsiClient, id: string, staging: string, target: string) {
  await c.node.NodeUnpublishVolume({ volume_id: id, target_path: target });
  await c.node.NodeUnstageVolume({ volume_id: id, staging_target_path: staging });
  await deleteVolumeRetrying(c.controller, id);
  for (let i = 0; i < 100 && liveLoopsUnder(dir).length; i++) await new Promise((r) => setTimeout(r, 50));
  expect(liveLoopsUnder(dir)).toEqual([]);
  expect(mountsUnder(dir)).toEqual([]);
}

describe('ext4 growth of a mounted volume, on the real kernel', () => {
  it('without CAP_SYS_RESOURCE (dropped for the driver with setpriv): NodeExpand → FAILED_PRECONDITION naming it, the filesystem untouched; it grows offline at the next Stage, data intact', async () => {
    const c = await start('ext4-nocap', true);
    const v = await publishedAndExpanded(c, 'nocap');
    let err: Error | undefined;
    try {
      await c.node.NodeExpandVolume({ volume_id: v.id, volume_path: v.target, capacity_range: { required_bytes: 256 * MiB } });
    } catch (e) {
      err = e as Error;
    }
    expect(err?.message).toMatch(/FAILED_PRECONDITION.*CAP_SYS_RESOURCE/);
    expect(dfSize(v.target)).toBe(v.before);
    expect(readFileSync(join(v.target, 'data'), 'utf8')).toBe('kept');
    // The CO's next Stage (here: unpublish, unstage, stage, publish) grows it before mounting.
    await c.node.NodeUnpublishVolume({ volume_id: v.id, target_path: v.target });
    await c.node.NodeUnstageVolume({ volume_id: v.id, staging_target_path: v.staging });
    await c.node.NodeStageVolume({ volume_id: v.id, staging_target_path: v.staging, volume_capability: mountCap() });
    await c.node.NodePublishVolume({ volume_id: v.id, staging_target_path: v.staging, target_path: v.target, volume_capability: mountCap() });
    expect(dfSize(v.target)).toBeGreaterThan(v.before * 3);
    expect(readFileSync(join(v.target, 'data'), 'utf8')).toBe('kept');
    // Nothing is left pending: a NodeExpand now succeeds.
    expect(await codeOf(c.node.NodeExpandVolume({ volume_id: v.id, volume_path: v.target }))).toBeUndefined();
    await teardown(c, v.id, v.staging, v.target);
  });

  it.skipIf(!testRootHasIt)(
    `with CAP_SYS_RESOURCE, for real${testRootHasIt ? '' : " — SKIPPED: this machine's root lacks CAP_SYS_RESOURCE (not in its bounding set); the driver's side of this branch is proven with a fake kernel in test/unit/csi/ext4-growth.test.ts"}: NodeExpand grows the mounted ext4 online, data intact`,
    async () => {
      const c = await start('ext4-cap', false);
      const v = await publishedAndExpanded(c, 'cap');
      await c.node.NodeExpandVolume({ volume_id: v.id, volume_path: v.target, capacity_range: { required_bytes: 256 * MiB } });
      expect(dfSize(v.target)).toBeGreaterThan(v.before * 3);
      expect(readFileSync(join(v.target, 'data'), 'utf8')).toBe('kept');
      await teardown(c, v.id, v.staging, v.target);
    },
  );
});
