// Volume images: sparse files in the data dir. A sparse file costs nothing
// until written, and its length is the hard size limit of the filesystem or
// block device built on it (writes past it fail with ENOSPC).
import { open, rm, stat, truncate } from 'node:fs/promises';
import { isNotFound } from '../../lib/errors.ts';

/** Create an empty sparse image of exactly `bytes`; fails if it already exists. */
export async function createImage(path: string, bytes: number): Promise<void> {
  const fh = await open(path, 'wx', 0o600);
  try {
    await fh.truncate(bytes);
    await fh.sync();
  } finally {
    await fh.close();
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
    return (await stat(path)).isFile();
  } catch (e) {
    if (isNotFound(e)) return false;
    throw e;
  }
}

/** Bytes actually allocated on disk (a sparse image uses far less than its length). */
export async function allocatedBytes(path: string): Promise<number> {
  try {
    return (await stat(path)).blocks * 512;
  } catch (e) {
    if (isNotFound(e)) return 0;
    throw e;
  }
}
