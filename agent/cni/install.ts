// Puts the CNI plugin where the container runtime finds it. A runtime may exec
// the binary or read the conflist at any instant (containerd watches the conf
// dir), so neither is ever written in place: the new content goes to a temp
// name in the same directory and is renamed over the old one. Renaming also
// sidesteps ETXTBSY from overwriting a binary that is running.
import { createHash } from 'node:crypto';
import { readFile, copyFile, rename, unlink, chmod, mkdir, open } from 'node:fs/promises';
import { join, basename } from 'node:path';
import { randomBytes } from 'node:crypto';
import { writeFileAtomic } from '../../lib/atomic-file.ts';
import { isNotFound } from '../../lib/errors.ts';

export type InstallOutcome = 'installed' | 'unchanged' | 'missing';

async function sha256(path: string): Promise<string | undefined> {
  try {
    return createHash('sha256').update(await readFile(path)).digest('hex');
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

/** Copy an executable into `destDir` under its own name unless the same bytes are already there. */
export async function installBinary(source: string, destDir: string, name = basename(source)): Promise<InstallOutcome> {
  const want = await sha256(source);
  if (want === undefined) return 'missing';
  const dest = join(destDir, name);
  if ((await sha256(dest)) === want) return 'unchanged';
  await mkdir(destDir, { recursive: true });
  const tmp = join(destDir, `.${name}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await copyFile(source, tmp);
    await chmod(tmp, 0o755);
    const fh = await open(tmp, 'r');
    try { await fh.sync(); } finally { await fh.close(); }
    await rename(tmp, dest);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
  return 'installed';
}

/** Write the conflist atomically unless it already holds exactly this text. */
export async function installConflist(path: string, text: string): Promise<InstallOutcome> {
  try {
    if ((await readFile(path, 'utf8')) === text) return 'unchanged';
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
  await writeFileAtomic(path, text, 0o644);
  return 'installed';
}
