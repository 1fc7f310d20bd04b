// Small fakes for the CSI host seams: loop devices, filesystems, the mount
// table and the image copier, all in memory and inspectable.
import { copyFile } from 'node:fs/promises';
import { fileIdentity, sameFile, type LoopDevices, type LoopInfo } from '../../csi/volumes/loop.ts';
import type { Filesystems, FsType } from '../../csi/volumes/filesystem.ts';
import type { MountEntry, MountTable } from '../../csi/volumes/mounts.ts';
import type { ImageCopier } from '../../csi/volumes/snapshot.ts';
import type { CsiContext } from '../../csi/context.ts';
import { MemoryStore } from './memory-store.ts';
import { KeyedMutex } from '../../csi/state/keyed-mutex.ts';
import { FakeExec } from './fake-exec.ts';
import { silentLogger } from '../../lib/logging.ts';

// Like the kernel, it knows a backing file by inode and device (taken when
// attached); `backingFile` is only what a reader would be shown.
export class FakeLoops implements LoopDevices {
  loops: LoopInfo[] = [];
  readAhead = new Map<string, number>();
  private next = 0;
  async list() {
    return [...this.loops];
  }
  async findAll(image: string) {
    const id = await fileIdentity(image);
    return this.loops.filter((l) => sameFile(l.backing, id)).map((l) => l.device);
  }
  async find(image: string) {
    return (await this.findAll(image))[0];
  }
  async attach(image: string) {
    const hit = await this.find(image);
    if (hit) return hit;
    const device = `/dev/loop${this.next++}`;
    const backing = await fileIdentity(image);
    this.loops.push({ device, backingFile: image, ...(backing ? { backing } : {}) });
    return device;
  }
  async detach(device: string) {
    this.loops = this.loops.filter((l) => l.device !== device);
  }
  async refreshSize() {}
  async setDirectIo() {}
  async setReadAheadKB(device: string, kb: number) {
    this.readAhead.set(device, kb);
  }
}

export class FakeMounts implements MountTable {
  entries: MountEntry[] = [];
  async list() {
    return [...this.entries];
  }
}

export class FakeFs implements Filesystems {
  formatted = new Map<string, string>();
  failMount = false;
  private readonly mounts: FakeMounts;
  constructor(mounts: FakeMounts) {
    this.mounts = mounts;
  }
  async detect(device: string) {
    return this.formatted.get(device);
  }
  async make(device: string, fsType: FsType) {
    this.formatted.set(device, fsType);
  }
  async mount(source: string, target: string, opts: { fsType?: string; bind?: boolean }) {
    if (this.failMount) throw new Error('mount: injected failure');
    this.mounts.entries.push({ source, target, fsType: opts.fsType ?? 'none', options: [], root: '/' });
  }
  async unmount(target: string) {
    const i = this.mounts.entries.map((m) => m.target).lastIndexOf(target);
    if (i >= 0) this.mounts.entries.splice(i, 1);
  }
  async grow() {}
  async growOffline() {}
  frozen = new Set<string>();
  async freeze(path: string) {
    this.frozen.add(path);
  }
  async thaw(path: string) {
    this.frozen.delete(path);
  }
}

export class FakeCopier implements ImageCopier {
  fail = false;
  async copy(src: string, dst: string) {
    if (this.fail) throw new Error('cp: injected failure');
    await copyFile(src, dst);
  }
}

export function fakeContext(dataDir: string) {
  const mounts = new FakeMounts();
  const loops = new FakeLoops();
  const fs = new FakeFs(mounts);
  const copier = new FakeCopier();
  const store = new MemoryStore();
  const ctx: CsiContext = {
    driverName: 'csi.test',
    nodeId: 'n1',
    dataDir,
    maxVolumes: 10,
    log: silentLogger(),
    store,
    lock: new KeyedMutex(),
    loops,
    fs,
    mounts,
    copier,
    exec: new FakeExec(),
  };
  return { ctx, mounts, loops, fs, copier, store };
}
