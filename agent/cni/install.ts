// Puts the CNI plugin where the container runtime finds it. A runtime may exec
// the binary or read the conflist at any instant (containerd watches the conf
// dir), so neither is ever written in place: the new content goes to a temp
// name in the same directory and is renamed over the old one. Renaming also
// sidesteps ETXTBSY from overwriting a binary that is running.
import { open, readFile, stat } from 'node:fs/promises';
import { join, basename } from 'node:path';
import { copyFileAtomic, writeFileAtomic } from '../../lib/atomic-file.ts';
import { isNotFound } from '../../lib/errors.ts';

export type InstallOutcome = 'installed' | 'unchanged' | 'missing';

async function size(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

const CHUNK = 1024 * 1024;

/**
 * Whether two files of the same size hold the same bytes, read side by side a
 * chunk at a time into two reused buffers. The compiled CNI binary is ~110 MB
 * and is checked on every agent start, before the agent is ready: two SHA-256
 * passes took ~520 ms here, this ~80 ms, and it stops at the first difference.
 * Never more than 2 MiB in memory, whatever the size.
 */
async function sameBytes(a: string, b: string): Promise<boolean> {
  const fa = await open(a, 'r');
  try {
    const fb = await open(b, 'r');
    try {
      const ba = Buffer.allocUnsafe(CHUNK);
      const bb = Buffer.allocUnsafe(CHUNK);
      for (;;) {
        const [ra, rb] = await Promise.all([fa.read(ba, 0, CHUNK, null), fb.read(bb, 0, CHUNK, null)]);
        if (ra.bytesRead !== rb.bytesRead) return false;
        if (ra.bytesRead === 0) return true;
        if (!ba.subarray(0, ra.bytesRead).equals(bb.subarray(0, rb.bytesRead))) return false;
      }
    } finally {
      await fb.close();
    }
  } finally {
    await fa.close();
  }
}

/** Copy an executable into `destDir` under its own name unless the same bytes are already there. */
export async function installBinary(source: string, destDir: string, name = basename(source)): Promise<InstallOutcome> {
  const want = await size(source);
  if (want === undefined) return 'missing';
  const dest = join(destDir, name);
  // Sizes differ: certainly a new binary, no need to read either.
  if ((await size(dest)) === want && (await sameBytes(dest, source))) return 'unchanged';
  await copyFileAtomic(source, dest, 0o755);
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
