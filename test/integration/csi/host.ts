// Host inspection and cleanup for the CSI integration tests: what loop
// devices and mounts exist under a test's temp dir, and a teardown that
// removes them even when the test failed half-way.
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { parseMountinfo } from '../../../csi/volumes/mounts.ts';

/** Loop devices whose backing file lies under `dir` (or is exactly `file`, when given). */
export function loopsUnder(dir: string, file?: string): string[] {
  const out = execFileSync('losetup', ['-J', '-l', '-O', 'NAME,BACK-FILE'], { encoding: 'utf8' });
  if (!out.trim()) return [];
  const j = JSON.parse(out) as { loopdevices: { name: string; 'back-file': string | null }[] };
  const back = (l: { 'back-file': string | null }) => (l['back-file'] ?? '').replace(/ \(deleted\)$/, '');
  return j.loopdevices.filter((l) => (file ? back(l) === file : back(l).startsWith(dir + '/'))).map((l) => l.name);
}

export function mountsUnder(dir: string): string[] {
  return parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8')).map((m) => m.target).filter((t) => t.startsWith(dir + '/'));
}

/** Unmount everything below `dir` (deepest first), detach its loops, delete it. */
export function cleanupHost(dir: string): void {
  for (let i = 0; i < 5; i++) {
    const ms = mountsUnder(dir).sort((a, b) => b.length - a.length);
    if (!ms.length) break;
    for (const m of ms) {
      // A test that died mid-snapshot may leave a frozen fs: thaw it, or it pins its loop device forever.
      try { execFileSync('fsfreeze', ['--unfreeze', m], { stdio: 'ignore', timeout: 5000 }); } catch { /* not frozen */ }
      try { execFileSync('umount', ['-l', m], { stdio: 'ignore' }); } catch { /* already gone */ }
    }
  }
  for (const l of loopsUnder(dir)) { try { execFileSync('losetup', ['-d', l], { stdio: 'ignore' }); } catch { /* already gone */ } }
  rmSync(dir, { recursive: true, force: true });
}
