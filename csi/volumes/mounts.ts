// The mount table, read from /proc/self/mountinfo: the only reliable answer
// to "is this path mounted, and by what" (a directory existing proves nothing).
import { readFileSync } from 'node:fs';

export interface MountEntry {
  target: string;
  source: string;
  fsType: string;
  options: string[];
  /** Root of the mount within its filesystem (a bind of a device node shows /loopN). */
  root: string;
}

// mountinfo escapes space, tab, newline and backslash as octal.
const unescapeOctal = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const [pre, post] = line.split(' - ');
    if (!pre || !post) continue;
    const a = pre.split(' ');
    const b = post.split(' ');
    out.push({
      root: unescapeOctal(a[3] ?? ''),
      target: unescapeOctal(a[4] ?? ''),
      options: (a[5] ?? '').split(','),
      fsType: b[0] ?? '',
      source: unescapeOctal(b[1] ?? ''),
    });
  }
  return out;
}

export interface MountTable {
  list(): Promise<MountEntry[]>;
}

export class ProcMountTable implements MountTable {
  async list(): Promise<MountEntry[]> {
    // Kernel memory, read in place (no thread-pool round trip).
    return parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8'));
  }
}

export async function mountAt(table: MountTable, target: string): Promise<MountEntry | undefined> {
  const all = await table.list();
  // The last entry wins: later mounts stack on top of earlier ones.
  for (let i = all.length - 1; i >= 0; i--) if (all[i]!.target === target) return all[i];
  return undefined;
}
