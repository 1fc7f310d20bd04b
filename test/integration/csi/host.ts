// Host inspection and cleanup for the CSI integration tests: what loop
// devices and mounts exist under a test's temp dir, and a teardown that
// removes them even when the test failed half-way.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, rmSync, statSync, type BigIntStats, type Dirent } from 'node:fs';
import { join } from 'node:path';
import { parseMountinfo } from '../../../csi/volumes/mounts.ts';

/**
 * Every loop device whose backing file is `file` by inode and device, whatever
 * path the kernel shows for it. Written independently of the driver's own
 * lookup (csi/volumes/loop.ts), which is what the tests check.
 */
export function loopsHolding(file: string): string[] {
  let st: BigIntStats;
  try {
    st = statSync(file, { bigint: true });
  } catch {
    return [];
  }
  const ino = String(st.ino);
  const major = ((st.dev >> 8n) & 0xfffn) | ((st.dev >> 32n) & 0xfffff000n);
  const minor = (st.dev & 0xffn) | ((st.dev >> 12n) & 0xffffff00n);
  // --raw escapes the spaces util-linux pads BACK-MAJ:MIN with as \x20.
  const out = execFileSync('losetup', ['-l', '-n', '--raw', '-O', 'NAME,BACK-INO,BACK-MAJ:MIN'], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((l) => l.replace(/\\x20/g, ' ').trim().split(/\s+/))
    .filter((f) => f[1] === ino && f[2] === `${major}:${minor}`)
    .map((f) => f[0]!);
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/** Loop devices whose backing file lies under `dir` (or is exactly `file`, when given). */
export function loopsUnder(dir: string, file?: string): string[] {
  const out = execFileSync('losetup', ['-J', '-l', '-O', 'NAME,BACK-FILE'], { encoding: 'utf8' });
  if (!out.trim()) return [];
  const j = JSON.parse(out) as { loopdevices: { name: string; 'back-file': string | null }[] };
  const back = (l: { 'back-file': string | null }) => (l['back-file'] ?? '').replace(/ \(deleted\)$/, '');
  return j.loopdevices.filter((l) => (file ? back(l) === file : back(l).startsWith(`${dir}/`))).map((l) => l.name);
}

export function mountsUnder(dir: string): string[] {
  return parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8'))
    .map((m) => m.target)
    .filter((t) => t.startsWith(`${dir}/`));
}

/** Unmount everything below `dir` (deepest first), detach its loops, delete it. */
export function cleanupHost(dir: string): void {
  for (let i = 0; i < 5; i++) {
    const ms = mountsUnder(dir).sort((a, b) => b.length - a.length);
    if (!ms.length) break;
    for (const m of ms) {
      // A test that died mid-snapshot may leave a frozen fs: thaw it, or it pins its loop device forever.
      try {
        execFileSync('fsfreeze', ['--unfreeze', m], { stdio: 'ignore', timeout: 5000 });
      } catch {
        /* not frozen */
      }
      try {
        execFileSync('umount', ['-l', m], { stdio: 'ignore' });
      } catch {
        /* already gone */
      }
    }
  }
  // By path, and by inode for devices attached through another mount namespace (shown under another path).
  const held = [
    ...loopsUnder(dir),
    ...filesUnder(dir)
      .filter((f) => f.endsWith('.img'))
      .flatMap((f) => {
        try {
          return loopsHolding(f);
        } catch {
          return [];
        }
      }),
  ];
  for (const l of new Set(held)) {
    try {
      execFileSync('losetup', ['-d', l], { stdio: 'ignore' });
    } catch {
      /* already gone */
    }
  }
  rmSync(dir, { recursive: true, force: true });
}

/**
 * `loopsHolding(file)` once it is empty, or what is left after `ms`. A device
 * the driver detached is freed at its last close; on this shared machine a
 * mount namespace another process created while the volume was mounted may
 * keep it open for a while (the driver logs that and answers OK).
 */
export async function loopsHoldingSettled(file: string, ms = 30_000): Promise<string[]> {
  const deadline = Date.now() + ms;
  let left = loopsHolding(file);
  while (left.length && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    left = loopsHolding(file);
  }
  return left;
}
