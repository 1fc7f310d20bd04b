// Point-in-time copies of an image. `cp --reflink=auto` shares extents on
// filesystems that can (xfs with reflink, btrfs) and falls back to a copy
// elsewhere; `--sparse=always` keeps holes holes, so a mostly empty 1 GiB
// volume stays a few MiB on disk either way.
import type { HostExec } from '../../lib/exec.ts';
import { rm } from 'node:fs/promises';

export interface ImageCopier {
  copy(src: string, dst: string): Promise<void>;
}

export class ReflinkCopier implements ImageCopier {
  private readonly exec: HostExec;
  constructor(exec: HostExec) {
    this.exec = exec;
  }
  async copy(src: string, dst: string): Promise<void> {
    try {
      await this.exec.run('cp', ['--reflink=auto', '--sparse=always', '--', src, dst], { timeoutMs: 600_000 });
    } catch (e) {
      await rm(dst, { force: true });
      throw e;
    }
  }
}
