// Volume images: sparse files in the data dir. A sparse file costs nothing
// until written, and its length is the hard size limit of the filesystem or
// block device built on it (writes past it fail with ENOSPC).
import { closeSync, fsync, ftruncate, open, openSync, statSync } from 'node:fs';
import { rm, truncate } from 'node:fs/promises';
import { isNotFound } from '../../lib/errors.ts';

// Calls that only touch kernel memory (stat, close) run in place: each saves a thread-pool round trip (~0.1 ms under
// load) on the hot path. What waits for the disk (fsync) and what may take
// long (unlinking a large image) stays asynchronous.

const fsyncFd = (fd: number) => new Promise<void>((resolve, reject) => fsync(fd, (e) => (e ? reject(e) : resolve())));

/**
 * Create an empty sparse image of exactly `bytes`; fails if it already
 * exists. `durable: false` skips the fsync, for an image whose loss a crash
 * may be allowed to cause because it can be made again exactly (a blank
 * volume's: see reconcile.ts); syncImage makes it durable before data goes in.
 */
export async function createImage(path: string, bytes: number, opts: { durable?: boolean } = {}): Promise<void> {
  // Creating and sizing a file wait for the filesystem's journal: thread pool (raw fds, no FileHandle).
  const fd = await new Promise<number>((resolve, reject) => open(path, 'wx', 0o600, (e, f) => (e ? reject(e) : resolve(f))));
  try {
    await new Promise<void>((resolve, reject) => ftruncate(fd, bytes, (e) => (e ? reject(e) : resolve())));
    if (opts.durable !== false) await fsyncFd(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * A blank volume's image is made at its first use (CreateVolume writes only
 * the record: no file to create in a directory that a burst of Creates would
 * queue on): make it now, durably, if it is not there. Nothing else: a
 * volume that is not blank has its image.
 */
export async function materializeImage(path: string, v: { blank?: boolean; capacityBytes: number }): Promise<void> {
  if (!v.blank) return;
  try {
    await createImage(path, v.capacityBytes);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
}

/** fsync an image (its size and existence on disk). */
export async function syncImage(path: string): Promise<void> {
  const fd = openSync(path, 'r');
  try {
    await fsyncFd(fd);
  } finally {
    closeSync(fd);
  }
}

export async function growImage(path: string, bytes: number): Promise<void> {
  await truncate(path, bytes);
}

export async function removeImage(path: string): Promise<void> {
  await rm(path, { force: true });
}

export async function imageExists(path: string): Promise<boolean> {
  try {
    return statSync(path).isFile();
  } catch (e) {
    if (isNotFound(e)) return false;
    throw e;
  }
}

/** Bytes actually allocated on disk (a sparse image uses far less than its length). */
export async function allocatedBytes(path: string): Promise<number> {
  try {
    return statSync(path).blocks * 512;
  } catch (e) {
    if (isNotFound(e)) return 0;
    throw e;
  }
}
