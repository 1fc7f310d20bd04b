// Small helpers for the CO's target and staging paths.
import { lstat, mkdir, rm, rmdir, open } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { dirname } from 'node:path';
import { notFound } from '../../lib/grpc/status-error.ts';
import { required } from '../validate.ts';
import { isNotFound, errnoCode } from '../../lib/errors.ts';

export async function pathKind(p: string): Promise<'dir' | 'file' | 'other' | undefined> {
  try {
    const st = await lstat(p);
    return st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other';
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

/** A path that must already exist (stats, expand): malformed or missing is NOT_FOUND. */
export async function existingPath(p: string | undefined, field: string): Promise<string> {
  const v = required(p, field);
  if (!isAbsolute(v) || v.split('/').includes('..') || (await pathKind(v)) === undefined) throw notFound(`${field} ${v} does not exist`);
  return v.replace(/\/+$/, '') || '/';
}

/** The mount point a publish needs: a directory for a filesystem, a file for a block device. */
export async function ensureTarget(p: string, block: boolean): Promise<void> {
  await mkdir(dirname(p), { recursive: true });
  const kind = await pathKind(p);
  if (block) {
    if (kind === 'dir') await rmdir(p); // a CO may pre-create a dir; a device node binds onto a file only
    if (kind !== 'file') await (await open(p, 'a', 0o600)).close();
  } else if (kind === undefined) {
    await mkdir(p, { recursive: true });
  }
}

/** Remove a target after unmount; a non-empty directory is left (it holds someone's data). */
export async function removeTarget(p: string): Promise<void> {
  const kind = await pathKind(p);
  try {
    if (kind === 'dir') await rmdir(p);
    else if (kind === 'file') await rm(p, { force: true });
  } catch (e) {
    if (errnoCode(e) !== 'ENOTEMPTY' && !isNotFound(e)) throw e;
  }
}
