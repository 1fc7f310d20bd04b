// Path globs for device discovery (`/dev/nvidia[0-9]*`, `/dev/ttyUSB*`).
// Matching is per path segment, like the shell: `*` and `?` never cross a
// `/`, and `[...]` is a character class (`[!...]`/`[^...]` negate, `a-z`
// ranges). Small enough that a dependency would cost more than it saves.
import { readdirSync, statSync } from 'node:fs';
import { join, dirname } from 'node:path';

/** True when `name` (one path segment) matches `pattern` (one segment). */
export function matchSegment(pattern: string, name: string): boolean {
  return matchFrom(pattern, 0, name, 0);
}

function matchFrom(p: string, pi: number, s: string, si: number): boolean {
  while (pi < p.length) {
    const c = p[pi]!;
    if (c === '*') {
      // Collapse runs of `*`, then try every split point.
      while (p[pi] === '*') pi++;
      if (pi === p.length) return true;
      for (let k = si; k <= s.length; k++) if (matchFrom(p, pi, s, k)) return true;
      return false;
    }
    if (si >= s.length) return false;
    if (c === '?') {
      pi++;
      si++;
      continue;
    }
    if (c === '[') {
      const cls = parseClass(p, pi);
      if (cls) {
        if (!cls.test(s[si]!)) return false;
        pi = cls.end;
        si++;
        continue;
      }
      // An unclosed `[` is a literal, as in the shell.
    }
    if (c === '\\' && pi + 1 < p.length) {
      if (p[pi + 1] !== s[si]) return false;
      pi += 2;
      si++;
      continue;
    }
    if (c !== s[si]) return false;
    pi++;
    si++;
  }
  return si === s.length;
}

function parseClass(p: string, start: number): { test: (ch: string) => boolean; end: number } | undefined {
  let i = start + 1;
  let negate = false;
  if (p[i] === '!' || p[i] === '^') {
    negate = true;
    i++;
  }
  const ranges: Array<[string, string]> = [];
  // A `]` right after the opening bracket is a member, not the end.
  let first = true;
  while (i < p.length && (p[i] !== ']' || first)) {
    first = false;
    const lo = p[i]!;
    if (p[i + 1] === '-' && i + 2 < p.length && p[i + 2] !== ']') {
      ranges.push([lo, p[i + 2]!]);
      i += 3;
    } else {
      ranges.push([lo, lo]);
      i++;
    }
  }
  if (i >= p.length) return undefined;
  return {
    end: i + 1,
    test: (ch) => ranges.some(([a, b]) => ch >= a && ch <= b) !== negate,
  };
}

export function hasMagic(segment: string): boolean {
  return /[*?[]/.test(segment);
}

/** Whole-path match of an absolute path against an absolute glob. */
export function matchPath(pattern: string, path: string): boolean {
  const ps = pattern.split('/');
  const ss = path.split('/');
  return ps.length === ss.length && ps.every((seg, i) => matchSegment(seg, ss[i]!));
}

export interface GlobResult {
  /** Matching paths, sorted in natural order (nvidia2 before nvidia10). */
  matches: string[];
  /**
   * Directories whose entries decide the result: the ones read while
   * expanding, plus the deepest existing ancestor of a missing static part.
   * Watching these (non-recursively) is enough to see any match appear.
   */
  dirs: string[];
}

/**
 * Natural order (nvidia2 before nvidia10): runs of digits compare as numbers,
 * everything else by code unit. Not Intl.Collator: the first use of ICU pages
 * ~7 MiB of the runtime's collation data into every agent, for device paths
 * and ids that are ASCII anyway.
 */
export function naturalCompare(a: string, b: string): number {
  const ra = a.match(/\d+|\D+/g) ?? [];
  const rb = b.match(/\d+|\D+/g) ?? [];
  for (let i = 0; i < Math.min(ra.length, rb.length); i++) {
    const x = ra[i]!;
    const y = rb[i]!;
    if (x === y) continue;
    const dx = x.charCodeAt(0) <= 57 && x.charCodeAt(0) >= 48;
    const dy = y.charCodeAt(0) <= 57 && y.charCodeAt(0) >= 48;
    if (dx && dy) {
      const nx = x.replace(/^0+(?=\d)/, '');
      const ny = y.replace(/^0+(?=\d)/, '');
      if (nx.length !== ny.length) return nx.length - ny.length;
      if (nx !== ny) return nx < ny ? -1 : 1;
      return x.length - y.length; // same number: fewer leading zeros first
    }
    return x < y ? -1 : 1;
  }
  return ra.length - rb.length;
}

/** Expand an absolute glob against the file system. Files, dirs, device nodes and sockets all match. */
export function expandGlob(pattern: string): GlobResult {
  if (!pattern.startsWith('/')) throw new Error(`glob ${pattern} must be an absolute path`);
  const segs = pattern.split('/').filter((s) => s !== '');
  const matches: string[] = [];
  const dirs = new Set<string>();
  const walk = (base: string, i: number): void => {
    if (i === segs.length) {
      matches.push(base);
      return;
    }
    const seg = segs[i]!;
    if (!hasMagic(seg)) {
      const next = join(base, seg.replace(/\\(.)/g, '$1'));
      if (exists(next)) walk(next, i + 1);
      else dirs.add(base); // watch the parent so the missing part is seen when it appears
      return;
    }
    dirs.add(base);
    let names: string[];
    try {
      names = readdirSync(base);
    } catch {
      return;
    }
    for (const n of names) {
      if (n.startsWith('.') && !seg.startsWith('.')) continue;
      if (matchSegment(seg, n)) walk(join(base, n), i + 1);
    }
  };
  walk('/', 0);
  matches.sort(naturalCompare);
  // A static path that exists still needs its parent watched to notice removal.
  if (!segs.some(hasMagic) && matches.length > 0) dirs.add(dirname(matches[0]!));
  for (const m of matches) dirs.add(dirname(m));
  return { matches, dirs: [...dirs].sort() };
}

function exists(p: string): boolean {
  try {
    statSync(p);
    return true;
  } catch {
    return false;
  }
}
