// Loop devices: the kernel object that turns a volume's image file into a
// block device. `losetup -J` is the source of truth after a restart or a
// reboot (loop devices do not survive one), never our own memory.
import { readdir, readFile } from 'node:fs/promises';
import type { HostExec } from '../../lib/exec.ts';

export interface LoopInfo {
  device: string;
  backingFile: string;
}

export interface LoopDevices {
  /** Every attached loop device with its backing file (`losetup -J`: the start-up inventory). */
  list(): Promise<LoopInfo[]>;
  /** The device attached to `image`, if any: the per-call fast path. */
  find(image: string): Promise<string | undefined>;
  /** Attach `image`, or return the device already attached to it. */
  attach(image: string, opts?: { directIo?: boolean; readOnly?: boolean }): Promise<string>;
  detach(device: string): Promise<void>;
  /** Re-read the backing file's size after it grew (`losetup -c`). */
  refreshSize(device: string): Promise<void>;
  setDirectIo(device: string, on: boolean): Promise<void>;
  /** Read-ahead in KiB (blockdev counts 512-byte sectors). */
  setReadAheadKB(device: string, kb: number): Promise<void>;
}

interface LosetupJson {
  loopdevices?: { name: string; 'back-file'?: string | null }[];
}

// The kernel appends " (deleted)" to a backing file that was unlinked.
const DELETED = ' (deleted)';

export class RealLoopDevices implements LoopDevices {
  private readonly exec: HostExec;
  constructor(exec: HostExec) {
    this.exec = exec;
  }

  async list(): Promise<LoopInfo[]> {
    const r = await this.exec.run('losetup', ['-J', '-l', '-O', 'NAME,BACK-FILE']);
    if (!r.stdout.trim()) return [];
    const j = JSON.parse(r.stdout) as LosetupJson;
    return (j.loopdevices ?? [])
      .filter((d) => d['back-file'])
      .map((d) => {
        const b = d['back-file']!;
        return { device: d.name, backingFile: b.endsWith(DELETED) ? b.slice(0, -DELETED.length) : b };
      });
  }

  // sysfs holds the same truth as `losetup -J` for a fraction of the cost: a
  // process spawn here costs 10-40 ms, a few small file reads well under one.
  async find(image: string): Promise<string | undefined> {
    let names: string[];
    try {
      names = (await readdir('/sys/block')).filter((n) => n.startsWith('loop'));
    } catch {
      return (await this.list()).find((l) => l.backingFile === image)?.device;
    }
    for (const n of names) {
      let back: string;
      try {
        back = (await readFile(`/sys/block/${n}/loop/backing_file`, 'utf8')).trim();
      } catch {
        continue; // not bound
      }
      if (back === image || back === image + DELETED) return `/dev/${n}`;
    }
    return undefined;
  }

  async attach(image: string, opts: { directIo?: boolean; readOnly?: boolean } = {}): Promise<string> {
    const existing = await this.find(image);
    if (existing) return existing;
    const args = ['--find', '--show'];
    if (opts.directIo) args.push('--direct-io=on');
    if (opts.readOnly) args.push('--read-only');
    const r = await this.exec.run('losetup', [...args, image]);
    return r.stdout.trim();
  }

  async detach(device: string): Promise<void> {
    const r = await this.exec.run('losetup', ['-d', device], { allowFail: true });
    // Already detached (or the number reused by nobody) is the outcome we wanted.
    if (r.exitCode !== 0 && !/No such device|No such file|not configured/i.test(r.stderr)) {
      throw new Error(`losetup -d ${device}: ${r.stderr.trim()}`);
    }
  }

  async refreshSize(device: string): Promise<void> {
    await this.exec.run('losetup', ['-c', device]);
  }

  async setDirectIo(device: string, on: boolean): Promise<void> {
    await this.exec.run('losetup', [`--direct-io=${on ? 'on' : 'off'}`, device]);
  }

  async setReadAheadKB(device: string, kb: number): Promise<void> {
    await this.exec.run('blockdev', ['--setra', String(kb * 2), device]);
  }
}
