// Every piece of state hostplane keeps on disk is replaced, never edited in
// place: a crash at any instant leaves either the old file or the new one.
import { open, rename, unlink, mkdir, copyFile, chmod } from 'node:fs/promises';
import { openSync, open as fsOpen, fsync as fsyncCb, writeSync, fsyncSync, fdatasync, closeSync, renameSync, unlinkSync, mkdirSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';

function tempName(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

// The directories writeFileAtomic has written into (a handful: conf dirs, the
// CDI dir), so writes into one share its directory fsyncs like a store's do.
const dirs = new Map<string, AtomicDir>();

/** Write `data` to `path` atomically: temp file in the same dir, fsync, rename, fsync dir (AtomicDir's write, one per directory). */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  let d = dirs.get(dir);
  if (!d) {
    d = new AtomicDir(dir);
    dirs.set(dir, d);
  }
  await d.write(basename(path), data, mode);
}

/** Copy `source` to `dest` atomically (an executable being replaced under a runtime that may exec it at any instant). */
export async function copyFileAtomic(source: string, dest: string, mode = 0o755): Promise<void> {
  await mkdir(dirname(dest), { recursive: true });
  const tmp = tempName(dest);
  try {
    await copyFile(source, tmp);
    await chmod(tmp, mode);
    const fh = await open(tmp, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, dest);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
  await fsyncDirFd(dirname(dest));
}

/** Synchronous twin, for short-lived processes (the CNI plugin) where async buys nothing. */
export function writeFileAtomicSync(path: string, data: string | Uint8Array, mode = 0o644): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = tempName(path);
  const fd = openSync(tmp, 'wx', mode);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    throw e;
  }
  closeSync(fd);
  try {
    renameSync(tmp, path);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    throw e;
  }
  const dfd = openSync(dirname(path), 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}

/** A directory's fsync with a raw fd: two thread-pool round trips instead of three, no FileHandle. */
async function fsyncDirFd(dir: string): Promise<void> {
  const fd = await new Promise<number>((resolve, reject) => fsOpen(dir, 'r', (e, f) => (e ? reject(e) : resolve(f))));
  try {
    await new Promise<void>((resolve, reject) => fsyncCb(fd, (e) => (e ? reject(e) : resolve())));
  } finally {
    closeSync(fd);
  }
}

/**
 * Atomic writes and removals of many small files in one directory that
 * exists (a state store's): the same temp-fsync-rename as writeFileAtomic,
 * with the directory's fsync shared by every write that renamed before it
 * started (group commit). A burst of concurrent record writes then costs one
 * directory fsync per round, not one each, and none waits for a sync that
 * began before its rename (that one might not cover it).
 */
let tempSeq = 0;

export class AtomicDir {
  readonly dir: string;
  private running: Promise<void> | undefined;
  private next: Promise<void> | undefined;

  constructor(dir: string) {
    this.dir = dir;
  }

  async write(name: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
    const path = join(this.dir, name);
    // Unique within the process by one counter for every instance (two may
    // serve the same directory): no random bytes per write.
    const tmp = join(this.dir, `.${name}.${process.pid}.${++tempSeq}.tmp`);
    // Creating and renaming a file wait for the filesystem's journal, which
    // the fsyncs keep busy: they go to the thread pool (the file as a raw fd,
    // cheaper than a FileHandle). Writing a small file into the page cache
    // and closing it take microseconds and run in place.
    const fd = await new Promise<number>((resolve, reject) => fsOpen(tmp, 'wx', mode, (e, f) => (e ? reject(e) : resolve(f))));
    try {
      writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
      await new Promise<void>((resolve, reject) => fdatasync(fd, (e) => (e ? reject(e) : resolve())));
    } catch (e) {
      closeSync(fd);
      try {
        unlinkSync(tmp);
      } catch {
        /* already gone */
      }
      throw e;
    }
    closeSync(fd);
    try {
      // A rename waits for the journal too: thread pool.
      await rename(tmp, path);
    } catch (e) {
      await unlink(tmp).catch(() => {});
      throw e;
    }
    await this.syncDir();
  }

  /** Remove `name` durably (gone after a crash too); a missing file is not an error. */
  async remove(name: string): Promise<void> {
    try {
      await unlink(join(this.dir, name));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    await this.syncDir();
  }

  /** Resolves once a directory fsync that started after this call has finished. */
  syncDir(): Promise<void> {
    if (!this.running) {
      this.running = fsyncDirFd(this.dir).finally(() => {
        this.running = undefined;
      });
      return this.running;
    }
    if (!this.next) {
      const after = this.running.catch(() => {});
      this.next = after.then(() => {
        this.next = undefined;
        return this.syncDir();
      });
    }
    return this.next;
  }
}
