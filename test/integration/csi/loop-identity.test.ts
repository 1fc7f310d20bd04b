// Loop devices attached by a mount namespace that no longer exists — what a
// rolling update of the DaemonSet leaves: the previous agent container
// attached the volume's image through its own mount of the data dir, and the
// kernel now shows another path for it (`/images/v-….img` instead of
// `<data-dir>/images/v-….img`). Reproduced for real: a loop device attached
// inside `unshare -m` through a bind mount of the data dir at another path.
// The driver must still know it as the volume's device everywhere.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { startHarness, MiB, type Harness } from './harness.ts';
import { codeOf, mountCap, blockCap, deleteVolumeRetrying } from './client.ts';
import { loopsHolding, loopsHoldingSettled, mountsUnder } from './host.ts';
import { RealLoopDevices } from '../../../csi/volumes/loop.ts';
import { RealExec } from '../../../lib/exec.ts';

let h: Harness;
// Devices this file attached by hand: freed even when a failing driver deleted their image
// (the harness' cleanup can then no longer tell them by inode).
const attached: { dev: string; shown: string }[] = [];
beforeAll(async () => {
  h = await startHarness('loopid');
});
afterAll(async () => {
  await h?.close();
  for (const { dev, shown } of attached) {
    let now = '';
    try {
      now = readFileSync(`/sys/block/${basename(dev)}/loop/backing_file`, 'utf8')
        .trim()
        .replace(/ \(deleted\)$/, '');
    } catch {
      continue;
    }
    if (now === shown) {
      try {
        execFileSync('losetup', ['-d', dev], { stdio: 'ignore' });
      } catch {
        /* already gone */
      }
    }
  }
});

// The image of a volume an earlier agent had staged: a blank volume's image is
// made at its first use (csi/controller/create-volume.ts), so these tests,
// standing in for that agent, make it as its Stage would have.
const image = (id: string) => {
  const p = join(h.dataDir, 'images', `${id}.img`);
  if (!existsSync(p)) {
    const v = JSON.parse(readFileSync(join(h.dataDir, 'state', 'volumes', `${id}.json`), 'utf8')) as { capacityBytes: number };
    writeFileSync(p, '', { mode: 0o600 });
    truncateSync(p, v.capacityBytes);
  }
  return p;
};

/** Attach `file` from a throwaway mount namespace that sees the data dir elsewhere; the namespace is gone on return. */
function attachFromGoneNamespace(file: string): string {
  const alt = join(h.dir, `alt-${Math.random().toString(36).slice(2, 8)}`);
  mkdirSync(alt);
  const dev = execFileSync(
    'unshare',
    ['-m', '--propagation', 'private', 'sh', '-c', 'mount --bind "$1" "$2" && exec losetup --find --show "$2/images/$3"', 'sh', h.dataDir, alt, basename(file)],
    { encoding: 'utf8' },
  ).trim();
  expect(dev).toMatch(/^\/dev\/loop\d+$/);
  // The precondition of the defect: the kernel no longer shows our path for it.
  const shown = readFileSync(`/sys/block/${basename(dev)}/loop/backing_file`, 'utf8').trim();
  attached.push({ dev, shown });
  expect(shown).not.toBe(file);
  expect(shown.endsWith(`/images/${basename(file)}`)).toBe(true);
  return dev;
}

function stagingDir(name: string): string {
  const p = join(h.dir, 'staging', name);
  mkdirSync(p, { recursive: true });
  return p;
}

const findmnt = (p: string, col: string) => execFileSync('findmnt', ['-n', '-o', col, '--mountpoint', p], { encoding: 'utf8' }).trim();

describe('loop device lookup by backing inode and device', () => {
  it('finds a device attached through a mount namespace that is gone, and lists its identity', async () => {
    const { volume } = await h.client.controller.CreateVolume({
      name: 'lookup',
      capacity_range: { required_bytes: 16 * MiB },
      volume_capabilities: [blockCap()],
    });
    const img = image(volume.volume_id);
    const dev = attachFromGoneNamespace(img);
    const loops = new RealLoopDevices(new RealExec());
    expect(await loops.find(img)).toBe(dev);
    expect(await loops.findAll(img)).toEqual([dev]);
    expect(await loops.attach(img)).toBe(dev); // reused, never a second device
    expect(loopsHolding(img)).toEqual([dev]);
    const listed = (await loops.list()).find((l) => l.device === dev);
    expect(listed?.backing?.ino).toMatch(/^\d+$/);
    expect(listed?.backing?.dev).toMatch(/^\d+:\d+$/);
    // Another file with the same name elsewhere is not it.
    const other = join(h.dir, 'other', basename(img));
    mkdirSync(join(h.dir, 'other'));
    writeFileSync(other, '');
    expect(await loops.findAll(other)).toEqual([]);
    execFileSync('losetup', ['-d', dev]);
    expect(await loops.findAll(img)).toEqual([]);
    await deleteVolumeRetrying(h.client.controller, volume.volume_id);
  });
});

describe('the remembered attachments (diskseq)', () => {
  it('a device detached and re-attached behind the driver’s back, to another file of the same name, is not mistaken for ours', async () => {
    const loops = new RealLoopDevices(new RealExec());
    mkdirSync(join(h.dir, 'seq-a'));
    mkdirSync(join(h.dir, 'seq-b'));
    const mine = join(h.dir, 'seq-a', 'v-same.img');
    const theirs = join(h.dir, 'seq-b', 'v-same.img');
    writeFileSync(mine, Buffer.alloc(MiB));
    writeFileSync(theirs, Buffer.alloc(MiB));
    const dev = await loops.attach(mine);
    expect(await loops.findAll(mine)).toEqual([dev]);
    execFileSync('losetup', ['-d', dev]);
    // The lowest free device: very likely the same number again.
    const other = execFileSync('losetup', ['--find', '--show', theirs], { encoding: 'utf8' }).trim();
    try {
      expect(await loops.findAll(mine)).toEqual([]);
      expect(await loops.findAll(theirs)).toEqual([other]);
    } finally {
      execFileSync('losetup', ['-d', other]);
    }
  });
});

describe('a volume whose loop device was attached by a gone namespace', () => {
  it('Stage reuses the device, NodeExpand finds it, Unstage unmounts and frees it, Delete leaves nothing', async () => {
    const { volume } = await h.client.controller.CreateVolume({
      name: 'rollout-xfs',
      capacity_range: { required_bytes: 320 * MiB },
      volume_capabilities: [mountCap('xfs')],
    });
    const id = volume.volume_id;
    const img = image(id);
    const dev = attachFromGoneNamespace(img);
    const staging = stagingDir('rollout-xfs');
    const target = join(h.dir, 'pods', 'rollout-xfs', 'vol');
    await h.client.node.NodeStageVolume({ volume_id: id, staging_target_path: staging, volume_capability: mountCap('xfs') });
    expect(loopsHolding(img)).toEqual([dev]);
    expect(findmnt(staging, 'SOURCE')).toBe(dev);
    await h.client.node.NodePublishVolume({ volume_id: id, staging_target_path: staging, target_path: target, volume_capability: mountCap('xfs') });
    writeFileSync(join(target, 'kept'), 'yes');

    await h.client.controller.ControllerExpandVolume({ volume_id: id, capacity_range: { required_bytes: 640 * MiB }, volume_capability: mountCap('xfs') });
    await h.client.node.NodeExpandVolume({ volume_id: id, volume_path: target, staging_target_path: staging, capacity_range: { required_bytes: 640 * MiB } });
    expect(Number(execFileSync('blockdev', ['--getsize64', dev], { encoding: 'utf8' }))).toBe(640 * MiB);
    expect(Number(execFileSync('df', ['-B1', '--output=size', target], { encoding: 'utf8' }).split('\n')[1])).toBeGreaterThan(500 * MiB);

    await h.client.node.NodeUnpublishVolume({ volume_id: id, target_path: target });
    await h.client.node.NodeUnstageVolume({ volume_id: id, staging_target_path: staging });
    expect(mountsUnder(h.dir).filter((m) => m.includes('rollout-xfs'))).toEqual([]);
    expect(await loopsHoldingSettled(img)).toEqual([]);
    await deleteVolumeRetrying(h.client.controller, id);
    expect(existsSync(img)).toBe(false);
  });

  it('Unstage of a staging mount made from that device unmounts it and frees the device', async () => {
    const { volume } = await h.client.controller.CreateVolume({
      name: 'rollout-ext4',
      capacity_range: { required_bytes: 32 * MiB },
      volume_capabilities: [mountCap()],
    });
    const id = volume.volume_id;
    const img = image(id);
    // What the previous agent did: attach (in its namespace), mkfs, mount at the staging path.
    const dev = attachFromGoneNamespace(img);
    const staging = stagingDir('rollout-ext4');
    execFileSync('mkfs.ext4', ['-q', '-F', dev]);
    execFileSync('mount', [dev, staging]);
    // The new driver is told to stage it again (kubelet after the rollout): nothing new is attached.
    await h.client.node.NodeStageVolume({ volume_id: id, staging_target_path: staging, volume_capability: mountCap() });
    expect(loopsHolding(img)).toEqual([dev]);
    await h.client.node.NodeUnstageVolume({ volume_id: id, staging_target_path: staging });
    expect(mountsUnder(h.dir)).not.toContain(staging);
    expect(await loopsHoldingSettled(img)).toEqual([]);
    await deleteVolumeRetrying(h.client.controller, id);
  });

  it('DeleteVolume refuses while that device is still mounted, then detaches it and deletes', async () => {
    const { volume } = await h.client.controller.CreateVolume({
      name: 'rollout-del',
      capacity_range: { required_bytes: 32 * MiB },
      volume_capabilities: [mountCap()],
    });
    const id = volume.volume_id;
    const img = image(id);
    const dev = attachFromGoneNamespace(img);
    const staging = stagingDir('rollout-del');
    execFileSync('mkfs.ext4', ['-q', '-F', dev]);
    execFileSync('mount', [dev, staging]);
    // No stage record (an older driver's Unstage answered OK and forgot it): the mount is all there is.
    expect(await codeOf(h.client.controller.DeleteVolume({ volume_id: id }))).toBe('FAILED_PRECONDITION');
    expect(existsSync(img)).toBe(true);
    expect(loopsHolding(img)).toEqual([dev]);
    execFileSync('umount', [staging]);
    await deleteVolumeRetrying(h.client.controller, id);
    expect(existsSync(img)).toBe(false);
    // The device is free (or, on this shared machine, already someone else's): not on our image.
    let shownNow = '';
    try {
      shownNow = readFileSync(`/sys/block/${basename(dev)}/loop/backing_file`, 'utf8');
    } catch {
      /* unbound */
    }
    expect(shownNow).not.toContain(basename(img));
  });

  it('block: Stage reuses the device and ControllerExpand + NodeExpand grow it', async () => {
    const { volume } = await h.client.controller.CreateVolume({
      name: 'rollout-blk',
      capacity_range: { required_bytes: 16 * MiB },
      volume_capabilities: [blockCap()],
    });
    const id = volume.volume_id;
    const img = image(id);
    const dev = attachFromGoneNamespace(img);
    const staging = stagingDir('rollout-blk');
    const target = join(h.dir, 'pods', 'rollout-blk', 'dev');
    await h.client.node.NodeStageVolume({ volume_id: id, staging_target_path: staging, volume_capability: blockCap() });
    await h.client.node.NodePublishVolume({ volume_id: id, staging_target_path: staging, target_path: target, volume_capability: blockCap() });
    expect(loopsHolding(img)).toEqual([dev]);
    const r = await h.client.controller.ControllerExpandVolume({ volume_id: id, capacity_range: { required_bytes: 48 * MiB }, volume_capability: blockCap() });
    expect(r.capacity_bytes).toBe(48 * MiB);
    await h.client.node.NodeExpandVolume({ volume_id: id, volume_path: target, capacity_range: { required_bytes: 48 * MiB } });
    expect(Number(execFileSync('blockdev', ['--getsize64', target], { encoding: 'utf8' }))).toBe(48 * MiB);
    await h.client.node.NodeUnpublishVolume({ volume_id: id, target_path: target });
    await h.client.node.NodeUnstageVolume({ volume_id: id, staging_target_path: staging });
    expect(await loopsHoldingSettled(img)).toEqual([]);
    await deleteVolumeRetrying(h.client.controller, id);
  });
});

describe('start-up reconcile', () => {
  it('keeps the device of a staged volume and detaches the one of an unstaged volume, by identity', async () => {
    const a = await h.client.controller.CreateVolume({ name: 'rec-staged', capacity_range: { required_bytes: 16 * MiB }, volume_capabilities: [blockCap()] });
    const b = await h.client.controller.CreateVolume({ name: 'rec-idle', capacity_range: { required_bytes: 16 * MiB }, volume_capabilities: [blockCap()] });
    const staging = stagingDir('rec-staged');
    const devA = attachFromGoneNamespace(image(a.volume.volume_id));
    await h.client.node.NodeStageVolume({ volume_id: a.volume.volume_id, staging_target_path: staging, volume_capability: blockCap() });
    const devB = attachFromGoneNamespace(image(b.volume.volume_id));
    await h.restart();
    expect(loopsHolding(image(a.volume.volume_id))).toEqual([devA]);
    expect(await loopsHoldingSettled(image(b.volume.volume_id))).toEqual([]);
    expect(devB).not.toBe(devA);
    await h.client.node.NodeUnstageVolume({ volume_id: a.volume.volume_id, staging_target_path: staging });
    expect(await loopsHoldingSettled(image(a.volume.volume_id))).toEqual([]);
    await deleteVolumeRetrying(h.client.controller, a.volume.volume_id);
    await deleteVolumeRetrying(h.client.controller, b.volume.volume_id);
  });
});
