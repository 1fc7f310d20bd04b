// A loop device's backing file, as something that survives a mount
// namespace: inode and device (see loop.ts for why never the path). Kept
// apart from loop.ts so the bun-side helper (kernel-ffi.ts) can use it
// without the exec seam.
import { statSync } from 'node:fs';
import { isNotFound } from '../../lib/errors.ts';

/** What survives a mount namespace: the backing file's inode and its filesystem's device as "major:minor". */
export interface FileIdentity {
  ino: string;
  dev: string;
}

/** glibc's encoding of st_dev, split as the kernel prints it. */
export function devString(dev: bigint): string {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & 0xfffff000n);
  const minor = (dev & 0xffn) | ((dev >> 12n) & 0xffffff00n);
  return `${major}:${minor}`;
}

/** The identity of the file at `path`, or undefined when there is none. */
export async function fileIdentity(path: string): Promise<FileIdentity | undefined> {
  try {
    const st = statSync(path, { bigint: true });
    return { ino: String(st.ino), dev: devString(st.dev) };
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

export const sameFile = (a: FileIdentity | undefined, b: FileIdentity | undefined): boolean => !!a && !!b && a.ino === b.ino && a.dev === b.dev;
