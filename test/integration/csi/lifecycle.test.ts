// The volume lifecycle on real loop devices and mounts, as root.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { writeFileSync, readFileSync, statSync, existsSync, openSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { startHarness, MiB, type Harness } from './harness.ts';
import { codeOf, mountCap, blockCap, deleteVolumeRetrying } from './client.ts';
import { mountsUnder } from './host.ts';
import { liveLoopsUnder } from './live-loops.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('life');
});
afterAll(async () => {
  await h?.close();
});

const cap = (fs = 'ext4') => [mountCap(fs)];
const image = (id: string) => join(h.dataDir, 'images', `${id}.img`);
// Released loop devices pinned by another test's mount namespace are not ours (live-loops.ts).
const loopsOf = (id: string) => liveLoopsUnder(h.dir, image(id));
const dfSize = (p: string) => Number(execFileSync('df', ['-B1', '--output=size', p], { encoding: 'utf8' }).split('\n')[1]);

async function stageAndPublish(id: string, c: object, name: string, readonly = false) {
  const staging = join(h.dir, 'staging', name);
  const target = join(h.dir, 'pods', name, 'vol');
  execFileSync('mkdir', ['-p', staging]);
  await h.client.node.NodeStageVolume({ volume_id: id, staging_target_path: staging, volume_capability: c });
  await h.client.node.NodePublishVolume({ volume_id: id, staging_target_path: staging, target_path: target, volume_capability: c, readonly });
  return { staging, target };
}

async function teardown(id: string, staging: string, target: string) {
  await h.client.node.NodeUnpublishVolume({ volume_id: id, target_path: target });
  await h.client.node.NodeUnstageVolume({ volume_id: id, staging_target_path: staging });
  await deleteVolumeRetrying(h.client.controller, id);
}

function fill(path: string, bytes: number): string | undefined {
  const fd = openSync(path, 'w');
  const buf = Buffer.alloc(MiB, 7);
  try {
    for (let done = 0; done < bytes; done += MiB) writeSync(fd, buf);
    return undefined;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code;
  } finally {
    closeSync(fd);
  }
}

describe('mount volumes', () => {
  it.each(['ext4', 'xfs'])('%s: create → stage → publish → write → unpublish → unstage → delete leaves nothing', async (fs) => {
    const size = fs === 'xfs' ? 320 * MiB : 64 * MiB;
    const { volume } = await h.client.controller.CreateVolume({ name: `life-${fs}`, capacity_range: { required_bytes: size }, volume_capabilities: cap(fs) });
    expect(volume.capacity_bytes).toBe(size);
    expect(volume.accessible_topology).toEqual([{ segments: { 'topology.hostplane.io/node': 'test-node' } }]);
    const { staging, target } = await stageAndPublish(volume.volume_id, mountCap(fs), `life-${fs}`);
    const m = execFileSync('findmnt', ['-n', '-o', 'FSTYPE', target], { encoding: 'utf8' }).trim();
    expect(m).toBe(fs);
    writeFileSync(join(target, 'hello'), 'world');
    expect(readFileSync(join(staging, 'hello'), 'utf8')).toBe('world');
    await teardown(volume.volume_id, staging, target);
    expect(existsSync(target)).toBe(false);
    expect(loopsOf(volume.volume_id)).toEqual([]);
    expect(mountsUnder(h.dir).filter((m) => m.includes(`life-${fs}`))).toEqual([]);
    expect(existsSync(image(volume.volume_id))).toBe(false);
  });

  it('writing past the capacity fails with ENOSPC', async () => {
    const { volume } = await h.client.controller.CreateVolume({ name: 'enospc', capacity_range: { required_bytes: 32 * MiB }, volume_capabilities: cap() });
    const { staging, target } = await stageAndPublish(volume.volume_id, mountCap(), 'enospc');
    expect(fill(join(target, 'big'), 64 * MiB)).toBe('ENOSPC');
    await teardown(volume.volume_id, staging, target);
  });

  it('a read-only publish refuses writes, and mount flags reach the mount', async () => {
    const c = mountCap('ext4', 'SINGLE_NODE_WRITER', ['noatime']);
    const { volume } = await h.client.controller.CreateVolume({ name: 'ro', capacity_range: { required_bytes: 32 * MiB }, volume_capabilities: [c] });
    const { staging, target } = await stageAndPublish(volume.volume_id, c, 'ro', true);
    expect(() => writeFileSync(join(target, 'x'), 'y')).toThrow(/EROFS/);
    expect(execFileSync('findmnt', ['-n', '-o', 'OPTIONS', staging], { encoding: 'utf8' })).toMatch(/noatime/);
    await teardown(volume.volume_id, staging, target);
  });

  it('NodeGetVolumeStats reports the volume’s own bytes and inodes, and abnormal once unmounted', async () => {
    const { volume } = await h.client.controller.CreateVolume({ name: 'stats', capacity_range: { required_bytes: 64 * MiB }, volume_capabilities: cap() });
    const { staging, target } = await stageAndPublish(volume.volume_id, mountCap(), 'stats');
    const st = await h.client.node.NodeGetVolumeStats({ volume_id: volume.volume_id, volume_path: target });
    const bytes = st.usage.find((u: { unit: string }) => u.unit === 'BYTES');
    const inodes = st.usage.find((u: { unit: string }) => u.unit === 'INODES');
    expect(bytes.total).toBeGreaterThan(40 * MiB);
    expect(bytes.total).toBeLessThanOrEqual(64 * MiB);
    expect(inodes.total).toBeGreaterThan(1000);
    expect(st.volume_condition.abnormal).toBe(false);
    // The image file deleted under a live loop device: both views say abnormal.
    execFileSync('mv', [image(volume.volume_id), `${image(volume.volume_id)}.moved`]);
    const noImage = await h.client.node.NodeGetVolumeStats({ volume_id: volume.volume_id, volume_path: target });
    expect(noImage.volume_condition).toMatchObject({ abnormal: true, message: expect.stringMatching(/image file is missing/) });
    const cv = await h.client.controller.ControllerGetVolume({ volume_id: volume.volume_id });
    expect(cv.status.volume_condition.abnormal).toBe(true);
    execFileSync('mv', [`${image(volume.volume_id)}.moved`, image(volume.volume_id)]);
    execFileSync('umount', [target]);
    const gone = await h.client.node.NodeGetVolumeStats({ volume_id: volume.volume_id, volume_path: target });
    expect(gone.volume_condition).toMatchObject({ abnormal: true, message: expect.stringMatching(/not mounted/) });
    await teardown(volume.volume_id, staging, target);
  });

  it('ControllerExpandVolume + NodeExpandVolume grow a mounted xfs online', async () => {
    const { volume } = await h.client.controller.CreateVolume({
      name: 'grow-xfs',
      capacity_range: { required_bytes: 320 * MiB },
      volume_capabilities: cap('xfs'),
    });
    const { staging, target } = await stageAndPublish(volume.volume_id, mountCap('xfs'), 'grow-xfs');
    const before = dfSize(target);
    const r = await h.client.controller.ControllerExpandVolume({ volume_id: volume.volume_id, capacity_range: { required_bytes: 640 * MiB } });
    expect(r).toMatchObject({ capacity_bytes: 640 * MiB, node_expansion_required: true });
    const n = await h.client.node.NodeExpandVolume({ volume_id: volume.volume_id, volume_path: target, capacity_range: { required_bytes: 640 * MiB } });
    expect(n.capacity_bytes).toBe(640 * MiB);
    expect(dfSize(target)).toBeGreaterThan(before * 1.8);
    await teardown(volume.volume_id, staging, target);
  });

  // ext4 growth, with and without CAP_SYS_RESOURCE: test/integration/csi/ext4-growth.test.ts.

  it('ControllerModifyVolume readAheadKB changes the attached loop device and persists', async () => {
    const { volume } = await h.client.controller.CreateVolume({ name: 'modify', capacity_range: { required_bytes: 32 * MiB }, volume_capabilities: cap() });
    const { staging, target } = await stageAndPublish(volume.volume_id, mountCap(), 'modify');
    await h.client.controller.ControllerModifyVolume({ volume_id: volume.volume_id, mutable_parameters: { readAheadKB: '1024' } });
    const dev = loopsOf(volume.volume_id)[0]!;
    expect(execFileSync('blockdev', ['--getra', dev], { encoding: 'utf8' }).trim()).toBe('2048');
    // Persisted: a re-stage applies it to the new loop device.
    await h.client.node.NodeUnpublishVolume({ volume_id: volume.volume_id, target_path: target });
    await h.client.node.NodeUnstageVolume({ volume_id: volume.volume_id, staging_target_path: staging });
    await h.restart();
    const again = await stageAndPublish(volume.volume_id, mountCap(), 'modify');
    expect(execFileSync('blockdev', ['--getra', loopsOf(volume.volume_id)[0]!], { encoding: 'utf8' }).trim()).toBe('2048');
    await teardown(volume.volume_id, again.staging, again.target);
  });
});

describe('ordering', () => {
  it('NodeUnstageVolume while still published → FAILED_PRECONDITION, and nothing is unmounted', async () => {
    const { volume } = await h.client.controller.CreateVolume({ name: 'order', capacity_range: { required_bytes: 16 * MiB }, volume_capabilities: cap() });
    const { staging, target } = await stageAndPublish(volume.volume_id, mountCap(), 'order');
    expect(await codeOf(h.client.node.NodeUnstageVolume({ volume_id: volume.volume_id, staging_target_path: staging }))).toBe('FAILED_PRECONDITION');
    expect(mountsUnder(h.dir)).toEqual(expect.arrayContaining([staging, target]));
    expect(await codeOf(h.client.controller.DeleteVolume({ volume_id: volume.volume_id }))).toBe('FAILED_PRECONDITION');
    await teardown(volume.volume_id, staging, target);
  });
});

describe('block volumes', () => {
  it('publishes the loop device node at a file target, of exactly the capacity', async () => {
    const { volume } = await h.client.controller.CreateVolume({ name: 'blk', capacity_range: { required_bytes: 48 * MiB }, volume_capabilities: [blockCap()] });
    const { staging, target } = await stageAndPublish(volume.volume_id, blockCap(), 'blk');
    expect(statSync(target).isBlockDevice()).toBe(true);
    expect(Number(execFileSync('blockdev', ['--getsize64', target], { encoding: 'utf8' }))).toBe(48 * MiB);
    execFileSync('dd', ['if=/dev/zero', `of=${target}`, 'bs=1M', 'count=1', 'oflag=direct', 'status=none']);
    await teardown(volume.volume_id, staging, target);
    expect(existsSync(target)).toBe(false);
    expect(loopsOf(volume.volume_id)).toEqual([]);
  });
});

describe('snapshots and clones', () => {
  it('a volume restored from a snapshot, and a clone, hold the source data at that point in time', async () => {
    const { volume } = await h.client.controller.CreateVolume({ name: 'src', capacity_range: { required_bytes: 64 * MiB }, volume_capabilities: cap() });
    const src = await stageAndPublish(volume.volume_id, mountCap(), 'src');
    writeFileSync(join(src.target, 'data'), 'v1');
    const { snapshot } = await h.client.controller.CreateSnapshot({ name: 'snap1', source_volume_id: volume.volume_id });
    expect(snapshot).toMatchObject({ source_volume_id: volume.volume_id, ready_to_use: true, size_bytes: 64 * MiB });
    writeFileSync(join(src.target, 'data'), 'v2');
    const fromSnap = await h.client.controller.CreateVolume({
      name: 'restored',
      capacity_range: { required_bytes: 128 * MiB },
      volume_capabilities: cap(),
      volume_content_source: { snapshot: { snapshot_id: snapshot.snapshot_id } },
    });
    expect(fromSnap.volume.content_source.snapshot.snapshot_id).toBe(snapshot.snapshot_id);
    const r = await stageAndPublish(fromSnap.volume.volume_id, mountCap(), 'restored');
    expect(readFileSync(join(r.target, 'data'), 'utf8')).toBe('v1');
    const clone = await h.client.controller.CreateVolume({
      name: 'clone',
      capacity_range: { required_bytes: 64 * MiB },
      volume_capabilities: cap(),
      volume_content_source: { volume: { volume_id: volume.volume_id } },
    });
    const c = await stageAndPublish(clone.volume.volume_id, mountCap(), 'clone');
    expect(readFileSync(join(c.target, 'data'), 'utf8')).toBe('v2');
    await teardown(clone.volume.volume_id, c.staging, c.target);
    await teardown(fromSnap.volume.volume_id, r.staging, r.target);
    await teardown(volume.volume_id, src.staging, src.target);
    await h.client.controller.DeleteSnapshot({ snapshot_id: snapshot.snapshot_id });
    expect(await codeOf(h.client.controller.GetSnapshot({ snapshot_id: snapshot.snapshot_id }))).toBe('NOT_FOUND');
  });
});

describe('restart and reboot', () => {
  it('a restarted driver knows every volume and snapshot it had', async () => {
    const { volume } = await h.client.controller.CreateVolume({ name: 'persist', capacity_range: { required_bytes: 16 * MiB }, volume_capabilities: cap() });
    await h.client.controller.CreateSnapshot({ name: 'persist-snap', source_volume_id: volume.volume_id });
    await h.restart();
    const list = await h.client.controller.ListVolumes({});
    expect(list.entries.map((e: { volume: { volume_id: string } }) => e.volume.volume_id)).toContain(volume.volume_id);
    const snaps = await h.client.controller.ListSnapshots({ source_volume_id: volume.volume_id });
    expect(snaps.entries).toHaveLength(1);
    await h.client.controller.DeleteSnapshot({ snapshot_id: snaps.entries[0].snapshot.snapshot_id });
    await deleteVolumeRetrying(h.client.controller, volume.volume_id);
  });

  it('after a reboot (mounts and loop devices gone) Stage re-attaches and the data is there', async () => {
    const { volume } = await h.client.controller.CreateVolume({ name: 'reboot', capacity_range: { required_bytes: 32 * MiB }, volume_capabilities: cap() });
    const p = await stageAndPublish(volume.volume_id, mountCap(), 'reboot');
    writeFileSync(join(p.target, 'kept'), 'yes');
    await h.driver.close();
    // "Reboot": every mount and loop device of ours disappears.
    execFileSync('umount', [p.target]);
    execFileSync('umount', [p.staging]);
    for (const l of loopsOf(volume.volume_id)) execFileSync('losetup', ['-d', l]);
    await h.restart();
    await h.client.node.NodeStageVolume({ volume_id: volume.volume_id, staging_target_path: p.staging, volume_capability: mountCap() });
    await h.client.node.NodePublishVolume({
      volume_id: volume.volume_id,
      staging_target_path: p.staging,
      target_path: p.target,
      volume_capability: mountCap(),
    });
    expect(readFileSync(join(p.target, 'kept'), 'utf8')).toBe('yes');
    expect(loopsOf(volume.volume_id)).toHaveLength(1);
    await teardown(volume.volume_id, p.staging, p.target);
  });
});

describe('concurrency', () => {
  it('ten concurrent Stages of one volume are serialised: all succeed, one loop device, one mount', async () => {
    const { volume } = await h.client.controller.CreateVolume({ name: 'race', capacity_range: { required_bytes: 32 * MiB }, volume_capabilities: cap() });
    const staging = join(h.dir, 'staging', 'race');
    execFileSync('mkdir', ['-p', staging]);
    const calls = Array.from({ length: 10 }, () =>
      h.client.node.NodeStageVolume({ volume_id: volume.volume_id, staging_target_path: staging, volume_capability: mountCap() }),
    );
    await Promise.all(calls);
    expect(loopsOf(volume.volume_id)).toHaveLength(1);
    expect(mountsUnder(h.dir).filter((m) => m === staging)).toHaveLength(1);
    await h.client.node.NodeUnstageVolume({ volume_id: volume.volume_id, staging_target_path: staging });
    await deleteVolumeRetrying(h.client.controller, volume.volume_id);
    expect(loopsOf(volume.volume_id)).toEqual([]);
  });

  it('concurrent Creates of one name make one volume', async () => {
    const rs = await Promise.all(
      Array.from({ length: 8 }, () =>
        h.client.controller.CreateVolume({ name: 'same', capacity_range: { required_bytes: 8 * MiB }, volume_capabilities: cap() }),
      ),
    );
    expect(new Set(rs.map((r) => r.volume.volume_id)).size).toBe(1);
    await deleteVolumeRetrying(h.client.controller, rs[0].volume.volume_id);
  });
});
