// The CSI helper (`dist/cni/hostplane csi-helper`) on the real kernel, behind
// the same seams the driver uses (RealLoopDevices, RealFilesystems): loop
// attach, identity, flags, capacity and detach by ioctl; mount, bind,
// read-only remount, CO flags and umount by syscall; and the fallbacks to
// the util-linux tools when the helper declines, cannot start, or dies with
// a request in flight. A recording exec proves which path did the work.
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { RealLoopDevices, fileIdentity } from '../../../csi/volumes/loop.ts';
import { RealFilesystems } from '../../../csi/volumes/filesystem.ts';
import { CsiHelper } from '../../../csi/volumes/helper-client.ts';
import { mountAt, ProcMountTable } from '../../../csi/volumes/mounts.ts';
import { RealExec, type ExecOptions, type ExecResult, type HostExec } from '../../../lib/exec.ts';
import { cleanupHost, loopsHolding } from './host.ts';
import { MiB, startHarness } from './harness.ts';
import { blockCap, deleteVolumeRetrying, mountCap } from './client.ts';

const root = join(import.meta.dirname, '..', '..', '..');
const BIN = join(root, 'dist', 'cni', 'hostplane');

/** The real host, with every tool run recorded. */
class RecordingExec implements HostExec {
  readonly calls: string[] = [];
  private readonly real = new RealExec();
  run(file: string, args: readonly string[], opts?: ExecOptions): Promise<ExecResult> {
    this.calls.push(file);
    return this.real.run(file, args, opts);
  }
}

let dir: string;
let exec: RecordingExec;
let helper: CsiHelper;
const mounts = new ProcMountTable();
const sys = (dev: string, f: string) => readFileSync(`/sys/block/${basename(dev)}/${f}`, 'utf8').trim();

function image(name: string, bytes = 64 * MiB): string {
  const p = join(dir, name);
  writeFileSync(p, '');
  truncateSync(p, bytes);
  return p;
}

beforeEach(() => {
  dir = mkdtempSync('/tmp/hp-csi-helper-');
  exec = new RecordingExec();
  helper = new CsiHelper({ binary: BIN });
});
afterEach(() => {
  helper.close();
  cleanupHost(dir);
});

describe('loop devices through the helper', () => {
  it('attach → the image by inode and device, diskseq known, a second attach returns the same device; detach frees it; no losetup run', async () => {
    const loops = new RealLoopDevices(exec, helper);
    const img = image('a.img');
    const dev = await loops.attach(img);
    expect(dev).toMatch(/^\/dev\/loop\d+$/);
    expect(loopsHolding(img)).toEqual([dev]);
    expect(await loops.attach(img)).toBe(dev);
    const listed = (await loops.list()).find((l) => l.device === dev);
    expect(listed?.backing).toEqual(await fileIdentity(img));
    expect(listed?.backingFile).toBe(img);
    expect(await loops.findAll(img)).toEqual([dev]);
    await loops.detach(dev);
    expect(loopsHolding(img)).toEqual([]);
    await loops.detach(dev); // already free: still fine
    expect(exec.calls.filter((c) => c === 'losetup')).toEqual([]);
    expect(helper.served).toBeGreaterThanOrEqual(4);
  });

  it('read-only and direct-io attach set the kernel flags; direct io can be switched; capacity follows a grown image; read-ahead is set', async () => {
    const loops = new RealLoopDevices(exec, helper);
    const ro = await loops.attach(image('ro.img'), { readOnly: true });
    expect(sys(ro, 'ro')).toBe('1');
    const img = image('dio.img');
    const dio = await loops.attach(img, { directIo: true });
    expect(sys(dio, 'ro')).toBe('0');
    expect(sys(dio, 'loop/dio')).toBe('1');
    await loops.setDirectIo(dio, false);
    expect(sys(dio, 'loop/dio')).toBe('0');
    truncateSync(img, 96 * MiB);
    await loops.refreshSize(dio);
    expect(Number(sys(dio, 'size')) * 512).toBe(96 * MiB);
    await loops.setReadAheadKB(dio, 256);
    expect(sys(dio, 'queue/read_ahead_kb')).toBe('256');
    expect(exec.calls).toEqual([]);
  });

  it('a missing image is a clear error, and nothing is attached', async () => {
    const loops = new RealLoopDevices(exec, helper);
    await expect(loops.attach(join(dir, 'nope.img'))).rejects.toThrow(/nope\.img.*No such file or directory/);
  });
});

describe('mounts through the helper', () => {
  it('ext4 with the CO flags, a read-only bind of it, umount with its loop device freed; no mount or umount run', async () => {
    const loops = new RealLoopDevices(exec, helper);
    const fs = new RealFilesystems(exec, helper);
    const img = image('m.img');
    const dev = await loops.attach(img);
    await fs.make(dev, 'ext4');
    const staging = join(dir, 'staging');
    const target = join(dir, 'target');
    mkdirSync(staging);
    mkdirSync(target);
    await fs.mount(dev, staging, { fsType: 'ext4', flags: ['noatime', 'nodev', 'x-kubelet.hint'] });
    const m = await mountAt(mounts, staging);
    expect(m?.source).toBe(dev);
    expect(m?.options).toEqual(expect.arrayContaining(['rw', 'nodev', 'noatime']));
    writeFileSync(join(staging, 'f'), 'data');
    await fs.mount(staging, target, { bind: true, readOnly: true, flags: ['nosuid'] });
    expect((await mountAt(mounts, target))?.options).toEqual(expect.arrayContaining(['ro', 'nosuid']));
    expect(readFileSync(join(target, 'f'), 'utf8')).toBe('data');
    expect(() => writeFileSync(join(target, 'g'), 'x')).toThrow(/EROFS|read-only/i);
    await fs.unmount(target);
    expect(await mountAt(mounts, target)).toBeUndefined();
    await fs.unmount(staging, { detachLoop: true });
    expect(await mountAt(mounts, staging)).toBeUndefined();
    expect(loopsHolding(img)).toEqual([]);
    expect(exec.calls).toEqual(['mkfs.ext4']);
  });

  it('a failed mount names source and target but never the flags (they may hold secrets), and leaves nothing mounted', async () => {
    const fs = new RealFilesystems(exec, helper);
    const loops = new RealLoopDevices(exec, helper);
    const dev = await loops.attach(image('s.img'));
    await fs.make(dev, 'ext4');
    mkdirSync(join(dir, 't'));
    const err = await fs.mount(dev, join(dir, 't'), { fsType: 'ext4', flags: ['password=hunter2-secret'] }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/mount .*loop.* on .*\/t .*Invalid argument/);
    expect((err as Error).message).toContain('1 option(s) withheld');
    expect((err as Error).message).not.toContain('hunter2');
    expect(await mountAt(mounts, join(dir, 't'))).toBeUndefined();
    await expect(fs.unmount(join(dir, 't'))).rejects.toThrow(/not mounted/);
    await loops.detach(dev);
  });

  it('an option only mount(8) knows (users) goes to mount(8)', async () => {
    const fs = new RealFilesystems(exec, helper);
    const loops = new RealLoopDevices(exec, helper);
    const dev = await loops.attach(image('u.img'));
    await fs.make(dev, 'ext4');
    const t = join(dir, 'u');
    mkdirSync(t);
    await fs.mount(dev, t, { fsType: 'ext4', flags: ['users'] });
    expect(exec.calls).toContain('mount');
    expect((await mountAt(mounts, t))?.options).toEqual(expect.arrayContaining(['noexec', 'nosuid', 'nodev']));
    await fs.unmount(t, { detachLoop: true });
  });
});

describe('fallbacks', () => {
  it('no helper (the binary is not one): losetup, mount and umount do the work, and the helper is not retried at once', async () => {
    const fake = new CsiHelper({ binary: '/bin/false' });
    const loops = new RealLoopDevices(exec, fake);
    const fs = new RealFilesystems(exec, fake);
    const img = image('f.img');
    const dev = await loops.attach(img);
    expect(loopsHolding(img)).toEqual([dev]);
    await fs.make(dev, 'ext4');
    mkdirSync(join(dir, 'f'));
    await fs.mount(dev, join(dir, 'f'), { fsType: 'ext4' });
    await fs.unmount(join(dir, 'f'), { detachLoop: true });
    expect(loopsHolding(img)).toEqual([]);
    expect(exec.calls).toEqual(['losetup', 'mkfs.ext4', 'mount', 'umount']);
    expect(fake.served).toBe(0);
    fake.close();
  });

  // A stand-in helper that does the work with the tools and dies before it
  // answers: the worst moment, the request took effect and nobody was told.
  function dyingHelper(): string {
    const script = join(dir, 'dying-helper');
    writeFileSync(
      script,
      [
        '#!/bin/sh',
        'echo \'{"ready":true}\'',
        'read -r line',
        'img=$(printf "%s" "$line" | sed -n \'s/.*"image":"\\([^"]*\\)".*/\\1/p\')',
        'src=$(printf "%s" "$line" | sed -n \'s/.*"source":"\\([^"]*\\)".*/\\1/p\')',
        'tgt=$(printf "%s" "$line" | sed -n \'s/.*"target":"\\([^"]*\\)".*/\\1/p\')',
        'case "$line" in',
        '*loop-attach*) losetup -f "$img" ;;',
        '*\'"op":"mount"\'*) mount --bind "$src" "$tgt" ;;',
        '*\'"op":"umount"\'*) umount "$tgt" ;;',
        'esac',
        'kill -9 $$',
        '',
      ].join('\n'),
    );
    chmodSync(script, 0o755);
    return script;
  }

  it('the helper dies mid-attach after attaching: the device it made is found, never a second one', async () => {
    const dying = new CsiHelper({ binary: dyingHelper() });
    const loops = new RealLoopDevices(exec, dying);
    const img = image('d.img');
    const dev = await loops.attach(img);
    expect(loopsHolding(img)).toEqual([dev]);
    expect(exec.calls).toEqual(['losetup']); // the inventory that found it, not a second attach
    dying.close();
  });

  it('the helper dies mid-mount after a bind it was to make read-only: the bind goes and mount(8) makes it read-only', async () => {
    const dying = new CsiHelper({ binary: dyingHelper() });
    const fs = new RealFilesystems(exec, dying);
    const src = join(dir, 'src');
    const t = join(dir, 'bind');
    mkdirSync(src);
    mkdirSync(t);
    await fs.mount(src, t, { bind: true, readOnly: true });
    const all = (await mounts.list()).filter((m) => m.target === t);
    expect(all).toHaveLength(1);
    expect(all[0]!.options).toContain('ro');
    expect(exec.calls).toEqual(['umount', 'mount']);
    await fs.unmount(t); // the next request starts a fresh helper, which dies again after its umount
    expect(await mountAt(mounts, t)).toBeUndefined();
    dying.close();
  });

  it('a helper killed between requests is started again for the next one', async () => {
    const loops = new RealLoopDevices(exec, helper);
    const a = await loops.attach(image('k1.img'));
    const pid = helper.pid!;
    process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 100 && helper.pid === pid; i++) await new Promise((r) => setTimeout(r, 20));
    const b = await loops.attach(image('k2.img'));
    expect(helper.pid).not.toBe(pid);
    expect(b).not.toBe(a);
    expect(exec.calls).toEqual([]);
    expect(statSync(b).isBlockDevice()).toBe(true);
  });
  it('an idle helper is stopped, and the next request starts a new one; no tool runs either way', async () => {
    const idle = new CsiHelper({ binary: BIN, idleMs: 200 });
    try {
      const loops = new RealLoopDevices(exec, idle);
      const a = await loops.attach(image('i1.img'));
      const pid = idle.pid!;
      expect(existsSync(`/proc/${pid}`)).toBe(true);
      // A busy helper is kept: requests closer together than idleMs never restart it.
      for (let i = 0; i < 3; i++) {
        await new Promise((r) => setTimeout(r, 100));
        await loops.refreshSize(a);
      }
      expect(idle.pid).toBe(pid);
      for (let i = 0; i < 100 && existsSync(`/proc/${pid}`); i++) await new Promise((r) => setTimeout(r, 20));
      expect(existsSync(`/proc/${pid}`)).toBe(false);
      expect(idle.pid).toBeUndefined();
      const b = await loops.attach(image('i2.img'));
      expect(idle.pid).not.toBe(pid);
      expect(statSync(b).isBlockDevice()).toBe(true);
      expect(exec.calls).toEqual([]);
    } finally {
      idle.close();
    }
  });
});

describe('the driver with its helper', () => {
  it.each([
    ['ext4', mountCap('ext4')],
    ['xfs', mountCap('xfs')],
    ['block', blockCap()],
  ] as const)(
    '%s: Create → Stage → Publish (read-only, with flags) → Unpublish → Unstage → Delete; the data and the read-only view hold, nothing is left',
    async (kind, c) => {
      const h = await startHarness('helper-drv', { helperBinary: BIN });
      try {
        const block = kind === 'block';
        const cap = block ? c : { ...c, mount: { ...(c as { mount: object }).mount, mount_flags: ['noatime', 'nodev'] } };
        const { volume } = await h.client.controller.CreateVolume({
          name: `hd-${kind}`,
          capacity_range: { required_bytes: 320 * MiB },
          volume_capabilities: [cap],
        });
        const id = volume.volume_id as string;
        const staging = join(h.dir, 'staging');
        const target = join(h.dir, 'pods', 'p', block ? 'dev' : 'vol');
        mkdirSync(staging, { recursive: true });
        mkdirSync(join(h.dir, 'pods', 'p'), { recursive: true });
        await h.client.node.NodeStageVolume({ volume_id: id, staging_target_path: staging, volume_capability: cap });
        // The driver (in this process) runs its helper as a child.
        expect(execFileSync('pgrep', ['-P', String(process.pid), '-f', 'csi-helper'], { encoding: 'utf8' }).trim()).toMatch(/^\d+$/);
        if (!block) {
          const m = await mountAt(mounts, staging);
          expect(m?.fsType).toBe(kind);
          expect(m?.options).toEqual(expect.arrayContaining(['nodev', 'noatime']));
          writeFileSync(join(staging, 'f'), 'kept');
        }
        await h.client.node.NodePublishVolume({ volume_id: id, staging_target_path: staging, target_path: target, volume_capability: cap, readonly: true });
        const pub = await mountAt(mounts, target);
        expect(pub?.options).toContain('ro');
        if (block) expect(statSync(target).isBlockDevice()).toBe(true);
        else {
          expect(readFileSync(join(target, 'f'), 'utf8')).toBe('kept');
          expect(() => writeFileSync(join(target, 'g'), 'x')).toThrow(/EROFS|read-only/i);
        }
        await h.client.node.NodeUnpublishVolume({ volume_id: id, target_path: target });
        await h.client.node.NodeUnstageVolume({ volume_id: id, staging_target_path: staging });
        expect(await mountAt(mounts, staging)).toBeUndefined();
        expect(loopsHolding(join(h.dataDir, 'images', `${id}.img`))).toEqual([]);
        await deleteVolumeRetrying(h.client.controller, id);
      } finally {
        await h.close();
      }
    },
  );
});
