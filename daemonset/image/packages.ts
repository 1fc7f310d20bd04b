// The Debian packages the image carries: the host tools the plugins call and
// the libraries the pinned Node runtime links against, closed over their
// Depends/Pre-Depends. Of an "a | b" choice only the first real package is
// taken (apt-cache's own --recurse would follow every alternative and drag in
// python, perl and ICU). Packages only maintainer scripts need are left out:
// the image is unpacked with dpkg-deb -x, no script ever runs.
import { execa } from 'execa';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';

export const PACKAGES = [
  'libc6',
  'libstdc++6',
  'dash',
  'coreutils',
  'iproute2',
  'nftables',
  'iptables',
  'util-linux',
  'mount',
  'e2fsprogs',
  'xfsprogs',
  'kmod',
];

// debconf/perl/dpkg/install-info: used by maintainer scripts only.
export const EXCLUDE = new Set(['debconf', 'cdebconf', 'perl-base', 'dpkg', 'install-info', 'tar']);

const DEP_FLAGS = ['--no-recommends', '--no-suggests', '--no-conflicts', '--no-breaks', '--no-replaces', '--no-enhances'];

/** Parse `apt-cache depends` (not recursive) into package -> chosen dependencies. */
export function parseDepends(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let current: string[] | undefined;
  let group: string[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (!line.startsWith(' ')) {
      current = [];
      out.set(line.trim(), current);
      group = [];
      continue;
    }
    const m = /^ (\||\s)(?:Pre)?Depends: (\S+)/.exec(line);
    if (!m || !current) continue; // provider lines (4-space indent) and other relations
    group.push(m[2]!);
    if (m[1] === '|') continue; // more alternatives follow
    const pick = group.find((p) => !p.startsWith('<')) ?? group[0]!;
    group = [];
    if (!pick.startsWith('<')) current.push(pick.replace(/:any$/, ''));
  }
  return out;
}

/** Breadth-first closure of `roots` over Depends/Pre-Depends, sorted. */
export async function resolveClosure(roots: readonly string[] = PACKAGES): Promise<string[]> {
  const seen = new Set<string>();
  let frontier = [...new Set(roots)];
  while (frontier.length) {
    for (const p of frontier) seen.add(p);
    const { stdout } = await execa('apt-cache', ['depends', ...DEP_FLAGS, ...frontier]);
    const next = new Set<string>();
    for (const deps of parseDepends(stdout).values()) {
      for (const d of deps) if (!seen.has(d) && !EXCLUDE.has(d)) next.add(d);
    }
    frontier = [...next];
  }
  return [...seen].sort();
}

/** `apt-get download` the candidate version of each package unless `cacheDir` has it; returns the .deb paths, sorted. */
export async function downloadDebs(pkgs: readonly string[], cacheDir: string): Promise<string[]> {
  await mkdir(cacheDir, { recursive: true });
  const { stdout } = await execa('apt-cache', ['policy', ...pkgs]);
  const candidate = new Map<string, string>();
  let name = '';
  for (const line of stdout.split('\n')) {
    const head = /^(\S+):$/.exec(line);
    if (head) name = head[1]!;
    const cand = /^\s+Candidate: (\S+)/.exec(line);
    if (cand && name) candidate.set(name, cand[1]!);
  }
  // apt-get download names files NAME_VERSION_ARCH.deb with the epoch's ':' as %3a.
  const prefix = (p: string) => `${p}_${(candidate.get(p) ?? '').replace(':', '%3a')}_`;
  const find = async (p: string) => (await readdir(cacheDir)).find((f) => f.startsWith(prefix(p)) && f.endsWith('.deb'));
  const missing: string[] = [];
  for (const p of pkgs) if (!(await find(p))) missing.push(p);
  if (missing.length)
    await execa('apt-get', ['-o', 'APT::Sandbox::User=root', 'download', ...missing], { cwd: cacheDir, stdio: ['ignore', 'ignore', 'inherit'] });
  const out: string[] = [];
  for (const p of pkgs) {
    const f = await find(p);
    if (!f) throw new Error(`apt-get download left no ${prefix(p)}*.deb in ${cacheDir}`);
    out.push(join(cacheDir, f));
  }
  return out.sort();
}
