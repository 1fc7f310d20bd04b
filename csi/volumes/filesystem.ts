// Filesystems on volume block devices: detect, make, mount, grow. Every call
// goes through HostExec with argument arrays; mount flags from the CO travel
// as one `-o` list, never through a shell.
import type { HostExec } from '../../lib/exec.ts';

export const SUPPORTED_FS = ['ext4', 'xfs'] as const;
export type FsType = (typeof SUPPORTED_FS)[number];

export interface Filesystems {
  /** The filesystem type on `device`, or undefined for a blank device. */
  detect(device: string): Promise<string | undefined>;
  make(device: string, fsType: FsType): Promise<void>;
  mount(source: string, target: string, opts: { fsType?: string; flags?: string[]; bind?: boolean; readOnly?: boolean }): Promise<void>;
  /** detachLoop: also free the loop device it was mounted from (`umount -d`), saving a separate losetup run. */
  unmount(target: string, opts?: { detachLoop?: boolean }): Promise<void>;
  /** Grow the filesystem mounted at `mountPath` to fill its device. */
  grow(device: string, mountPath: string, fsType: string): Promise<void>;
  /** Grow an unmounted ext4 to fill its device (needs a forced fsck first). */
  growOffline(device: string): Promise<void>;
  /** Flush and block writers of the filesystem mounted at `mountPath` (a consistent snapshot). */
  freeze(mountPath: string): Promise<void>;
  /** Undo `freeze`; thawing a filesystem that is not frozen is not an error. */
  thaw(mountPath: string): Promise<void>;
}

export class RealFilesystems implements Filesystems {
  private readonly exec: HostExec;
  constructor(exec: HostExec) {
    this.exec = exec;
  }

  async detect(device: string): Promise<string | undefined> {
    // blkid exits 2 when it finds no signature: a blank device, not an error.
    const r = await this.exec.run('blkid', ['-p', '-o', 'value', '-s', 'TYPE', device], { allowFail: true });
    if (r.exitCode === 2) return undefined;
    if (r.exitCode !== 0) throw new Error(`blkid ${device}: ${r.stderr.trim()}`);
    return r.stdout.trim() || undefined;
  }

  async make(device: string, fsType: FsType): Promise<void> {
    // nodiscard: the image is a fresh sparse file, discarding it is wasted time.
    if (fsType === 'ext4') await this.exec.run('mkfs.ext4', ['-q', '-F', '-m', '0', '-E', 'nodiscard,lazy_itable_init=1,lazy_journal_init=1', device]);
    else await this.exec.run('mkfs.xfs', ['-q', '-f', '-K', device]);
  }

  async mount(source: string, target: string, opts: { fsType?: string; flags?: string[]; bind?: boolean; readOnly?: boolean }): Promise<void> {
    const o = [...(opts.flags ?? [])];
    if (opts.bind) o.unshift('bind');
    if (opts.readOnly) o.push('ro');
    const args: string[] = [];
    if (opts.fsType) args.push('-t', opts.fsType);
    if (o.length) args.push('-o', o.join(','));
    await this.exec.run('mount', [...args, '--', source, target]);
  }

  async unmount(target: string, opts: { detachLoop?: boolean } = {}): Promise<void> {
    await this.exec.run('umount', opts.detachLoop ? ['-d', target] : [target]);
  }

  async grow(device: string, mountPath: string, fsType: string): Promise<void> {
    if (fsType === 'xfs') await this.exec.run('xfs_growfs', [mountPath]);
    else await this.exec.run('resize2fs', [device]);
  }

  async growOffline(device: string): Promise<void> {
    // e2fsck -p exits 1 when it fixed something: still fine to resize.
    const r = await this.exec.run('e2fsck', ['-f', '-p', device], { allowFail: true });
    if (r.exitCode > 1) throw new Error(`e2fsck ${device} exited ${r.exitCode}: ${r.stderr.trim() || r.stdout.trim()}`);
    await this.exec.run('resize2fs', [device]);
  }

  async freeze(mountPath: string): Promise<void> {
    await this.exec.run('fsfreeze', ['--freeze', mountPath]);
  }

  async thaw(mountPath: string): Promise<void> {
    await this.exec.run('fsfreeze', ['--unfreeze', mountPath], { allowFail: true });
  }
}
