// Filesystems on volume block devices: detect, make, mount, grow. Every call
// goes through HostExec with argument arrays; mount flags from the CO travel
// as one `-o` list, never through a shell.
import { ExecError, type HostExec } from '../../lib/exec.ts';
import { HelperExitedError, type CsiHelper } from './helper-client.ts';
import type { HelperReply } from './helper-protocol.ts';
import { mountAt, ProcMountTable, type MountTable } from './mounts.ts';

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

/**
 * mount and umount go to the CSI helper's syscalls when there is one
 * (helper-client.ts); the tools do the rest, and the helper's share when it
 * is missing, declines (an option only mount(8) knows) or dies mid-call.
 */
export class RealFilesystems implements Filesystems {
  private readonly exec: HostExec;
  private readonly helper: CsiHelper | undefined;
  private readonly mounts: MountTable;
  constructor(exec: HostExec, helper?: CsiHelper, mounts: MountTable = new ProcMountTable()) {
    this.exec = exec;
    this.helper = helper;
    this.mounts = mounts;
  }

  /** 'done', a failure to throw, or 'tool' (no helper, declined, or it died: the caller redoes it with the tool). */
  private async viaHelper(req: Parameters<CsiHelper['call']>[0]): Promise<'done' | 'tool' | 'died' | HelperReply> {
    if (!this.helper) return 'tool';
    let r: HelperReply | undefined;
    try {
      r = await this.helper.call(req);
    } catch (e) {
      if (e instanceof HelperExitedError) return 'died';
      throw e;
    }
    if (!r || r.unsupported) return 'tool';
    return r.ok ? 'done' : r;
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
    const shown = () => [
      ...args.filter((a, i) => a !== '-o' && args[i - 1] !== '-o'),
      ...(o.length ? ['-o', `<${o.length} option(s) withheld>`] : []),
      '--',
      source,
      target,
    ];
    const h = await this.viaHelper({ op: 'mount', source, target, ...opts });
    if (h === 'done') return;
    if (typeof h === 'object') throw new ExecError('mount', shown(), 32, h.error ?? 'failed');
    // Died mid-mount: whatever it left at the target (a bind not yet remounted
    // read-only, say) goes, and the tool does it whole.
    if (h === 'died' && (await mountAt(this.mounts, target))) await this.exec.run('umount', [target]);
    try {
      await this.exec.run('mount', [...args, '--', source, target]);
    } catch (e) {
      // Mount flags may carry credentials (cifs-style password=): the error
      // text reaches the log and the CO's events, so it names everything but them.
      if (!(e instanceof ExecError)) throw e;
      throw new ExecError('mount', shown(), e.exitCode, e.stderr);
    }
  }

  async unmount(target: string, opts: { detachLoop?: boolean } = {}): Promise<void> {
    if (this.helper) {
      // umount -d frees the loop device the mount came from: look it up first.
      const m = opts.detachLoop ? await mountAt(this.mounts, target) : undefined;
      const loop = m && /^\/dev\/loop\d+$/.test(m.source) ? m.source : undefined;
      const h = await this.viaHelper({ op: 'umount', target, ...(loop ? { detachLoop: loop } : {}) });
      if (h === 'done') return;
      if (typeof h === 'object') throw new ExecError('umount', [target], 32, h.error ?? 'failed');
      if (h === 'died' && !(await mountAt(this.mounts, target))) {
        // The umount happened; the loop device may still need freeing.
        if (loop) await this.exec.run('losetup', ['-d', loop], { allowFail: true });
        return;
      }
    }
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
