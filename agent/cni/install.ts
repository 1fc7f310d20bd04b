// Puts the CNI plugin where the container runtime finds it. A runtime may exec
// the binary or read the conflist at any instant (containerd watches the conf
// dir), so neither is ever written in place: the new content goes to a temp
// name in the same directory and is renamed over the old one. Renaming also
// sidesteps ETXTBSY from overwriting a binary that is running.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
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

// Streamed: the compiled CNI binary is ~100 MB, and the agent checks it on
// every start and Node update; holding it in memory twice bought nothing.
async function sha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

/** Copy an executable into `destDir` under its own name unless the same bytes are already there. */
export async function installBinary(source: string, destDir: string, name = basename(source)): Promise<InstallOutcome> {
  const want = await size(source);
  if (want === undefined) return 'missing';
  const dest = join(destDir, name);
  // Sizes differ: certainly a new binary, no need to read either.
  if ((await size(dest)) === want && (await sha256(dest)) === (await sha256(source))) return 'unchanged';
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
