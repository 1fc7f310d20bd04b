// Processes as /proc shows them, for tests and benches that check what a
// component leaves running and what it costs in memory.
import { readdirSync, readFileSync } from 'node:fs';

/** Each live process's parent pid. */
function parents(): Map<number, number> {
  const parent = new Map<number, number>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      // comm may hold spaces and parentheses: the ppid is the 2nd field after the last ')'.
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      parent.set(Number(e), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      /* exited meanwhile */
    }
  }
  return parent;
}

export function childrenOf(pid: number): number[] {
  return [...parents()].filter(([, pp]) => pp === pid).map(([c]) => c);
}

/** Children, grandchildren and so on. */
export function descendants(pid: number): number[] {
  const parent = parents();
  const found: number[] = [];
  const walk = (p: number): void => {
    for (const [c, pp] of parent) {
      if (pp !== p) continue;
      found.push(c);
      walk(c);
    }
  };
  walk(pid);
  return found;
}

/** VmRSS, RssAnon, RssFile and VmHWM in MiB (empty once the process is gone). */
export function memoryOf(pid: number): Partial<Record<'VmRSS' | 'RssAnon' | 'RssFile' | 'VmHWM', number>> {
  const r: Record<string, number> = {};
  try {
    for (const m of readFileSync(`/proc/${pid}/status`, 'utf8').matchAll(/^(VmRSS|RssAnon|RssFile|VmHWM):\s+(\d+)/gm)) r[m[1]!] = Number(m[2]) / 1024;
  } catch {
    /* exited */
  }
  return r;
}

/** The program and first argument, for naming a process in a report. */
export function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(0, 2).join(' ').replace(/^.*\//, '');
  } catch {
    return '?';
  }
}
