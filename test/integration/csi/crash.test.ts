// Crash safety: SIGKILL the driver in the middle of CreateVolume (a clone
// copy), NodeStageVolume (during mkfs, and just after the mount),
// CreateSnapshot (mid-copy, source mounted and frozen), NodePublishVolume
// (before and after its bind mount), NodeUnstageVolume (before and after its
// umount), ControllerExpandVolume (image grown, loop device not yet told),
// NodeExpandVolume (before the filesystem grows) and DeleteVolume (before and
// after the image is removed); restart it, retry. Nothing may leak (loop
// device, image, mount, record) and nothing written may be lost. And a driver
// restarted (SIGTERM, as in a rolling update, or SIGKILL) under a pod that
// keeps writing to its volume leaves the pod's I/O running throughout.
//
// "The middle" is made deterministic with shims put first on the driver's
// PATH: when a flag file exists (and the call's arguments contain the flag's
// match text), the shim announces itself and stalls, before or after running
// the real tool, and the test kills the driver right then (and the stalled
// shim with it). DeleteVolume runs no tool, so a test-only preload
// (pause-hook.ts) stalls its file removal the same way. Each test asserts
// that the operation had really begun before the kill.
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, readdirSync, existsSync, rmSync, chmodSync, statSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { spawnDriver, waitForSocket, killHard, MiB } from './harness.ts';
import { csiClient, mountCap, blockCap, codeOf, type CsiClient, deleteVolumeRetrying } from './client.ts';
import { cleanupHost, loopsUnder, mountsUnder } from './host.ts';
import { liveLoopsUnder, loopDiagnostics } from './live-loops.ts';
import { parseMountinfo } from '../../../csi/volumes/mounts.ts';

const SHIMMED = ['cp', 'mkfs.ext4', 'mount', 'umount', 'losetup', 'xfs_growfs'];
const root = join(import.meta.dirname, '..', '..', '..');

// The flag file slow-<tool>: line 1 "before" (stall instead of running the tool)
// or "after" (run it, then stall); line 2 a text the arguments must contain.
function writeShims(dir: string): string {
  const shimDir = join(dir, 'shims');
  mkdirSync(shimDir);
  for (const name of SHIMMED) {
    const real = execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
    writeFileSync(
      join(shimDir, name),
      `${[
        '#!/bin/sh',
        `f="${dir}/slow-${name}"`,
        'if [ -e "$f" ]; then',
        '  when=$(sed -n 1p "$f"); match=$(sed -n 2p "$f")',
        '  case " $* " in',
        '  *"$match"*)',
        `    if [ "$when" = after ]; then "${real}" "$@"; rc=$?; else rc=0; fi`,
        `    echo $$ > "${dir}/started-${name}"`,
        // exec: the stall is this very pid, so killing it leaves no orphan sleeping on.
        '    [ $rc = 0 ] && exec sleep 60 || exec sh -c "sleep 60; exit $rc";;',
        '  esac',
        'fi',
        `exec "${real}" "$@"`,
      ].join('\n')}\n`,
    );
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
  driver = spawnDriver(
    dir,
    { PATH: `${shimDir}:${process.env.PATH}`, HP_PAUSE_DIR: dir },
    { nodeArgs: ['--import', join(root, 'test', 'integration', 'csi', 'pause-hook.ts')] },
  );
  await waitForSocket(join(dir, 'csi.sock'), driver);
  client = csiClient(join(dir, 'csi.sock'));
  // The socket file exists from bind(); on a loaded machine the first dial can still be refused.
  for (let i = 0; ; i++) {
    try {
      await client.identity.Probe({});
      break;
    } catch (e) {
      if (i >= 50) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function waitFor(what: string, ok: () => boolean, ms = 20_000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 25))) if (ok()) return;
  expect(ok(), what).toBe(true);
}

/**
 * Run `call`, wait for the shim of `tool` to stall inside it (before or after
 * the real tool ran, on a call whose arguments contain `match`), run `atKill`
 * (to check the operation had begun), SIGKILL the driver, restart it.
 */
async function crashDuring(
  tool: string,
  call: () => Promise<unknown>,
  opts: { when?: 'before' | 'after'; match?: string; atKill?: () => void } = {},
): Promise<void> {
  writeFileSync(join(dir, `slow-${tool}`), `${opts.when ?? (tool === 'mount' ? 'after' : 'before')}\n${opts.match ?? ''}\n`);
  const pending = call().catch(() => undefined);
  const started = join(dir, `started-${tool}`);
  await waitFor(`${tool} never ran`, () => existsSync(started));
  rmSync(join(dir, `slow-${tool}`));
  opts.atKill?.();
  await killHard(driver);
  try {
    process.kill(Number(readFileSync(started, 'utf8')), 'SIGKILL');
  } catch {
    /* gone */
  }
  rmSync(started);
  client.close();
  await pending;
  await start();
}

/** The same, for DeleteVolume: its removal of a path containing `match` stalls (pause-hook.ts). */
async function crashInRemoval(match: string, when: 'before' | 'after', call: () => Promise<unknown>, atKill?: () => void): Promise<void> {
  writeFileSync(join(dir, 'pause-rm'), `${match}\n${when}\n`);
  const pending = call().catch(() => undefined);
  await waitFor('the removal never started', () => existsSync(join(dir, 'paused-rm')));
  rmSync(join(dir, 'pause-rm'));
  atKill?.();
  await killHard(driver);
  rmSync(join(dir, 'paused-rm'));
  client.close();
  await pending;
  await start();
}

function state(
  kind: 'volumes' | 'snapshots',
): { id: string; status: string; capacityBytes: number; blank?: boolean; stage?: { path: string; complete: boolean }; publish?: Record<string, unknown> }[] {
  const d = join(dir, 'data', 'state', kind);
  if (!existsSync(d)) return [];
  return readdirSync(d)
    .filter((f) => f.endsWith('.json') && !f.startsWith('.'))
    .map((f) => JSON.parse(readFileSync(join(d, f), 'utf8')));
}

/** Loop devices of images under `dir` that no staged volume explains, or staged volumes with more than one. */
function strayLoops(): number {
  const vols = state('volumes');
  let owned = 0;
  let extra = 0;
  for (const v of vols) {
    const n = ourLoops(join(dir, 'data', 'images', `${v.id}.img`)).length;
    owned += n;
    extra += Math.max(0, n - (v.stage?.complete ? 1 : 0));
  }
  return extra + ourLoops().length - owned;
}

const ourLoops = (file?: string) => liveLoopsUnder(dir, file);

/**
 * The invariants a crash must never break. Loop devices are given a few
 * seconds: `losetup -d` of a device something else holds open for a moment
 * (a udev or blkid probe from anywhere on the machine) only marks it
 * autoclear, and the kernel frees it at that holder's last close.
 */
async function expectCoherent(): Promise<void> {
  await waitFor('loop devices settle', () => strayLoops() === 0, 5_000).catch(() => {});
  if (strayLoops() || ourLoops().length !== loopsUnder(dir).length) console.error(`loop devices of ${dir}:\n${loopDiagnostics(dir)}`);
  const vols = state('volumes');
  const snaps = state('snapshots');
  expect(vols.every((v) => v.status === 'ready')).toBe(true);
  expect(snaps.every((s) => s.status === 'ready')).toBe(true);
  // Every image belongs to a volume, and every volume has one but a blank volume (its image is made at first use).
  const imgs = readdirSync(join(dir, 'data', 'images')).sort();
  expect(imgs.filter((f) => !vols.some((v) => `${v.id}.img` === f))).toEqual([]);
  expect(vols.filter((v) => !v.blank && !imgs.includes(`${v.id}.img`)).map((v) => v.id)).toEqual([]);
  expect(readdirSync(join(dir, 'data', 'snapshots')).sort()).toEqual(snaps.map((s) => `${s.id}.img`).sort());
  const staged = vols.filter((v) => v.stage?.complete);
  // A loop device only for a staged volume, at most one each (a staged volume
  // may have none: a reboot, or an Unstage killed after its umount -d).
  let owned = 0;
  for (const v of vols) {
    const l = ourLoops(join(dir, 'data', 'images', `${v.id}.img`));
    expect(l.length, `loop devices of ${v.id}`).toBeLessThanOrEqual(v.stage?.complete ? 1 : 0);
    owned += l.length;
  }
  expect(ourLoops()).toHaveLength(owned);
  // Every mount is a completed stage or a recorded publish: nothing unexplained.
  for (const m of mountsUnder(dir))
    expect(staged.some((v) => m === v.stage!.path) || vols.some((v) => m in (v.publish ?? {})), `unexplained mount ${m}`).toBe(true);
  expect(readdirSync(join(dir, 'data', 'state', 'volumes')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
}

/** Nothing at all left of any volume: no record, image, loop device or mount. */
async function expectEmpty(): Promise<void> {
  await expectCoherent();
  expect(state('volumes')).toEqual([]);
  expect(readdirSync(join(dir, 'data', 'images'))).toEqual([]);
  await waitFor('no loop device left', () => ourLoops().length === 0, 5_000);
  expect(mountsUnder(dir)).toEqual([]);
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
    try {
      process.kill(Number(readFileSync(join(dir, f), 'utf8')), 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  cleanupHost(dir);
});

const caps = [mountCap()];
const stagingOf = (name: string) => {
  const p = join(dir, 'staging', name);
  mkdirSync(p, { recursive: true });
  return p;
};

describe('SIGKILL during CreateVolume', () => {
  it('mid-copy of a clone: rolled back at restart, the retry creates it once', async () => {
    const src = await client.controller.CreateVolume({ name: 'src', capacity_range: { required_bytes: 16 * MiB }, volume_capabilities: caps });
    const req = {
      name: 'clone',
      capacity_range: { required_bytes: 16 * MiB },
      volume_capabilities: caps,
      volume_content_source: { volume: { volume_id: src.volume.volume_id } },
    };
    await crashDuring('cp', () => client.controller.CreateVolume(req));
    await expectCoherent();
    expect(state('volumes')).toHaveLength(1);
    const again = await client.controller.CreateVolume(req);
    expect(again.volume.content_source.volume.volume_id).toBe(src.volume.volume_id);
    expect(state('volumes')).toHaveLength(2);
    await expectCoherent();
  });
});

describe('SIGKILL during NodeStageVolume', () => {
  it.each([
    ['mkfs.ext4', 'during mkfs'],
    ['mount', 'after the mount, before the record'],
  ])('%s (%s): loop detached and mount undone at restart; the retry stages once', async (tool) => {
    const { volume } = await client.controller.CreateVolume({ name: 'stage', capacity_range: { required_bytes: 32 * MiB }, volume_capabilities: caps });
    const staging = stagingOf('stage');
    const req = { volume_id: volume.volume_id, staging_target_path: staging, volume_capability: mountCap() };
    await crashDuring(tool, () => client.node.NodeStageVolume(req));
    await expectCoherent();
    await waitFor('no loop device left', () => ourLoops().length === 0, 5_000);
    expect(mountsUnder(dir)).toEqual([]);
    await client.node.NodeStageVolume(req);
    await waitFor('exactly one loop device', () => ourLoops().length === 1, 5_000);
    expect(parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8')).filter((m) => m.target === staging)).toHaveLength(1);
    await expectCoherent();
    await client.node.NodeUnstageVolume(req);
    await deleteVolumeRetrying(client.controller, volume.volume_id);
    await expectCoherent();
    await waitFor('no loop device left', () => ourLoops().length === 0, 5_000);
  });
});

describe('SIGKILL during CreateSnapshot', () => {
  it('mid-copy of a mounted (frozen) volume: rolled back, the filesystem thawed, the retry succeeds', async () => {
    const { volume } = await client.controller.CreateVolume({ name: 'snapsrc', capacity_range: { required_bytes: 32 * MiB }, volume_capabilities: caps });
    const staging = stagingOf('snapsrc');
    await client.node.NodeStageVolume({ volume_id: volume.volume_id, staging_target_path: staging, volume_capability: mountCap() });
    const req = { name: 'snap', source_volume_id: volume.volume_id };
    await crashDuring('cp', () => client.controller.CreateSnapshot(req));
    await expectCoherent();
    expect(state('snapshots')).toEqual([]);
    // Thawed: a write completes (a frozen fs would block it forever).
    execFileSync('sh', ['-c', `echo ok > ${staging}/after-crash`], { timeout: 10_000 });
    const { snapshot } = await client.controller.CreateSnapshot(req);
    expect(snapshot.ready_to_use).toBe(true);
    await expectCoherent();
    await client.controller.DeleteSnapshot({ snapshot_id: snapshot.snapshot_id });
    await client.node.NodeUnstageVolume({ volume_id: volume.volume_id, staging_target_path: staging });
    await deleteVolumeRetrying(client.controller, volume.volume_id);
    await expectCoherent();
  });
});

const isMounted = (p: string) => parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8')).some((m) => m.target === p);
const recordOf = (id: string) => state('volumes').find((v) => v.id === id);

async function stagedVolume(name: string, cap: object = mountCap(), bytes = 32 * MiB) {
  const { volume } = await client.controller.CreateVolume({ name, capacity_range: { required_bytes: bytes }, volume_capabilities: [cap] });
  const staging = stagingOf(name);
  await client.node.NodeStageVolume({ volume_id: volume.volume_id, staging_target_path: staging, volume_capability: cap });
  return { id: volume.volume_id as string, staging, target: join(dir, 'pods', name, 'vol') };
}

async function teardown(id: string, staging: string, target: string): Promise<void> {
  await client.node.NodeUnpublishVolume({ volume_id: id, target_path: target });
  await client.node.NodeUnstageVolume({ volume_id: id, staging_target_path: staging });
  await deleteVolumeRetrying(client.controller, id);
}

describe('driver restart while a pod writes to its volume', () => {
  it.each(['SIGTERM', 'SIGKILL'] as const)(
    "%s: the pod's mount and I/O go on throughout; after the restart Unpublish, Unstage and Delete work and nothing is lost",
    async (sig) => {
      const v = await stagedVolume(`pod-${sig.toLowerCase()}`);
      await client.node.NodePublishVolume({ volume_id: v.id, staging_target_path: v.staging, target_path: v.target, volume_capability: mountCap() });
      // The "pod": a process holding a file open on the volume, appending a counter and syncing.
      const log = join(v.target, 'log');
      // One process, no children: when it is killed, nothing else keeps the mount busy.
      const pod = spawn(
        join(root, 'node_modules', '.bin', 'node'),
        [
          '-e',
          `
      const fs = require('node:fs'); const fd = fs.openSync(process.argv[1], 'a'); let i = 0;
      setInterval(() => { fs.writeSync(fd, i++ + '\\n'); fs.fsyncSync(fd); }, 5);`,
          log,
        ],
        { stdio: 'ignore' },
      );
      const lines = () => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean).length : 0);
      try {
        await waitFor('the pod never wrote', () => lines() >= 20);
        const exited = new Promise((r) => driver.once('exit', r));
        driver.kill(sig);
        await exited;
        client.close();
        const whileDown = lines();
        await waitFor("the pod's writes stopped while the driver was down", () => lines() >= whileDown + 20);
        await start();
        const afterStart = lines();
        await waitFor("the pod's writes stopped after the restart", () => lines() >= afterStart + 20);
        expect(pod.exitCode).toBeNull();
        // The restarted driver sees the volume as it is: staged, published, healthy.
        const stats = await client.node.NodeGetVolumeStats({ volume_id: v.id, volume_path: v.target });
        expect(stats.volume_condition).toMatchObject({ abnormal: false });
        await waitFor('exactly one loop device', () => ourLoops().length === 1, 5_000);
        expect(isMounted(v.staging) && isMounted(v.target)).toBe(true);
        await expectCoherent();
      } finally {
        const gone = new Promise((r) => pod.once('exit', r));
        pod.kill('SIGKILL');
        await gone;
      }
      // Nothing lost: every number from 0 on, once, in order.
      const got = readFileSync(log, 'utf8').split('\n').filter(Boolean).map(Number);
      expect(got).toEqual(got.map((_, i) => i));
      await teardown(v.id, v.staging, v.target);
      expect(existsSync(v.target)).toBe(false);
      await expectEmpty();
    },
  );
});

describe('SIGKILL during NodePublishVolume', () => {
  it.each(['before', 'after'] as const)('%s the bind mount: the retried Publish mounts once; the retried Unpublish removes it', async (when) => {
    const v = await stagedVolume(`pub-${when}`);
    writeFileSync(join(v.staging, 'data'), 'kept');
    const req = { volume_id: v.id, staging_target_path: v.staging, target_path: v.target, volume_capability: mountCap() };
    await crashDuring('mount', () => client.node.NodePublishVolume(req), {
      when,
      match: v.target,
      atKill: () => {
        expect(existsSync(v.target), 'Publish had created the target').toBe(true);
        expect(isMounted(v.target)).toBe(when === 'after');
      },
    });
    await client.node.NodePublishVolume(req);
    await expectCoherent();
    expect(parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8')).filter((m) => m.target === v.target)).toHaveLength(1);
    expect(readFileSync(join(v.target, 'data'), 'utf8')).toBe('kept');
    await teardown(v.id, v.staging, v.target);
    await expectEmpty();
  });

  it('after the bind mount, never retried (the pod went away): Unpublish still removes the unrecorded mount, and teardown leaks nothing', async () => {
    const v = await stagedVolume('pub-abandoned');
    const req = { volume_id: v.id, staging_target_path: v.staging, target_path: v.target, volume_capability: mountCap() };
    await crashDuring('mount', () => client.node.NodePublishVolume(req), {
      when: 'after',
      match: v.target,
      atKill: () => expect(isMounted(v.target)).toBe(true),
    });
    expect(recordOf(v.id)?.publish).toEqual({}); // the mount exists, the record does not know it
    await client.node.NodeUnpublishVolume({ volume_id: v.id, target_path: v.target });
    expect(isMounted(v.target)).toBe(false);
    expect(existsSync(v.target)).toBe(false);
    await client.node.NodeUnstageVolume({ volume_id: v.id, staging_target_path: v.staging });
    await deleteVolumeRetrying(client.controller, v.id);
    await expectEmpty();
  });

  it('block, after the bind of the device node, never retried: Unpublish removes it too', async () => {
    const v = await stagedVolume('pub-block', blockCap());
    const req = { volume_id: v.id, staging_target_path: v.staging, target_path: v.target, volume_capability: blockCap() };
    await crashDuring('mount', () => client.node.NodePublishVolume(req), {
      when: 'after',
      match: v.target,
      atKill: () => expect(isMounted(v.target)).toBe(true),
    });
    await client.node.NodeUnpublishVolume({ volume_id: v.id, target_path: v.target });
    expect(isMounted(v.target)).toBe(false);
    await client.node.NodeUnstageVolume({ volume_id: v.id, staging_target_path: v.staging });
    await deleteVolumeRetrying(client.controller, v.id);
    await expectEmpty();
  });
});

describe('SIGKILL during NodeUnstageVolume', () => {
  it.each(['before', 'after'] as const)('%s the umount: the retried Unstage completes, Delete works, the data survived', async (when) => {
    const v = await stagedVolume(`unstage-${when}`);
    writeFileSync(join(v.staging, 'data'), 'kept');
    const req = { volume_id: v.id, staging_target_path: v.staging };
    await crashDuring('umount', () => client.node.NodeUnstageVolume(req), {
      when,
      match: v.staging,
      atKill: () => {
        expect(isMounted(v.staging)).toBe(when === 'before');
        expect(recordOf(v.id)?.stage?.complete).toBe(true); // begun, not recorded
      },
    });
    await expectCoherent();
    await client.node.NodeUnstageVolume(req);
    expect(isMounted(v.staging)).toBe(false);
    await waitFor('no loop device left', () => ourLoops().length === 0, 5_000);
    expect(recordOf(v.id)?.stage).toBeUndefined();
    // Nothing lost: staged again, the file is there.
    await client.node.NodeStageVolume({ ...req, volume_capability: mountCap() });
    expect(readFileSync(join(v.staging, 'data'), 'utf8')).toBe('kept');
    await client.node.NodeUnstageVolume(req);
    await deleteVolumeRetrying(client.controller, v.id);
    await expectEmpty();
  });
});

describe('SIGKILL during expansion', () => {
  it('ControllerExpand (image grown, loop device not yet told) then NodeExpand (before xfs_growfs): each retry completes, the data survives', async () => {
    const v = await stagedVolume('grow', mountCap('xfs'), 320 * MiB);
    await client.node.NodePublishVolume({ volume_id: v.id, staging_target_path: v.staging, target_path: v.target, volume_capability: mountCap('xfs') });
    writeFileSync(join(v.target, 'data'), 'kept');
    execFileSync('sync');
    const img = join(dir, 'data', 'images', `${v.id}.img`);
    const want = { required_bytes: 448 * MiB };
    await crashDuring('losetup', () => client.controller.ControllerExpandVolume({ volume_id: v.id, capacity_range: want }), {
      match: ' -c /dev/loop', // losetup -c DEVICE (the test dir's own name contains "-c")
      atKill: () => expect(statSync(img).size, 'ControllerExpand had grown the image').toBe(448 * MiB),
    });
    await expectCoherent();
    const r = await client.controller.ControllerExpandVolume({ volume_id: v.id, capacity_range: want });
    expect(Number(r.capacity_bytes)).toBe(448 * MiB);
    expect(r.node_expansion_required).toBe(true);
    expect(recordOf(v.id)?.capacityBytes).toBe(448 * MiB);
    const dfSize = () => Number(execFileSync('df', ['-B1', '--output=size', v.target], { encoding: 'utf8' }).split('\n')[1]);
    const before = dfSize();
    const nreq = { volume_id: v.id, volume_path: v.target, capacity_range: want };
    await crashDuring('xfs_growfs', () => client.node.NodeExpandVolume(nreq), {
      atKill: () => expect(dfSize(), 'the filesystem had not grown yet').toBe(before),
    });
    await expectCoherent();
    await client.node.NodeExpandVolume(nreq);
    expect(dfSize()).toBeGreaterThan(before * 1.3);
    expect(readFileSync(join(v.target, 'data'), 'utf8')).toBe('kept');
    await teardown(v.id, v.staging, v.target);
    await expectEmpty();
  });
});

describe('SIGKILL during DeleteVolume', () => {
  it.each(['before', 'after'] as const)(
    '%s the image is removed: the restart finishes the delete, the retried Delete answers OK, nothing leaks',
    async (when) => {
      // Used once (staged and unstaged): a blank volume has no image to remove until its first use.
      const used = await stagedVolume(`del-${when}`, mountCap(), 16 * MiB);
      await client.node.NodeUnstageVolume({ volume_id: used.id, staging_target_path: used.staging });
      const id = used.id;
      const keep = await client.controller.CreateVolume({ name: 'bystander', capacity_range: { required_bytes: 16 * MiB }, volume_capabilities: caps });
      const img = join(dir, 'data', 'images', `${id}.img`);
      await crashInRemoval(
        `/images/${id}.img`,
        when,
        () => client.controller.DeleteVolume({ volume_id: id }),
        () => {
          // The record goes (durably) before the image: an image left behind is an orphan the restart removes.
          expect(recordOf(id), 'Delete had removed the record first').toBeUndefined();
          expect(existsSync(img)).toBe(when === 'before');
        },
      );
      // The restart already finished it: no record, no image.
      expect(recordOf(id)).toBeUndefined();
      expect(existsSync(img)).toBe(false);
      expect(await codeOf(deleteVolumeRetrying(client.controller, id))).toBeUndefined();
      expect(state('volumes').map((v) => v.id)).toEqual([keep.volume.volume_id]); // the other volume untouched
      await expectCoherent();
      await deleteVolumeRetrying(client.controller, keep.volume.volume_id);
      await expectEmpty();
    },
  );
});
