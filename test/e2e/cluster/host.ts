// What the node changes on the host, set up before the daemons start and
// undone after they stop: the node address, the blackhole routes, the
// cgroup root, shared bind mounts for the DaemonSet's Bidirectional host
// dirs, and the host state the kubelet rewrites (sysctls, iptables chains,
// its two hard-coded directories). Everything is recorded in RECORD before it
// is changed, so a run that died is cleaned up by the next one.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync, readdirSync, rmSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, DIR, RECORD, NODE_IP, NODE_LINK, POD_BRIDGE, REF_BRIDGE, CLUSTER_CIDR, SERVICE_CIDR, CGROUP_ROOT, HARDCODED_DIRS } from './layout.ts';

/** Sysctls the kubelet (and our CNI, ip_forward) rewrite on the host. */
const SYSCTLS = [
  'vm/overcommit_memory',
  'vm/panic_on_oom',
  'kernel/panic',
  'kernel/panic_on_oops',
  'kernel/keys/root_maxkeys',
  'kernel/keys/root_maxbytes',
  'net/ipv4/ip_forward',
  'net/ipv6/conf/all/forwarding',
];
const CGROUP_FS = '/sys/fs/cgroup';

interface Record {
  sysctls: { [key: string]: string };
  /** For each hard-coded kubelet dir: the entries it had, or null when it did not exist (nor its parents listed in `created`). */
  dirs: { [dir: string]: string[] | null };
  created: string[];
}

const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const tryRun = (cmd: string, args: string[]): string | undefined => {
  try {
    return run(cmd, args);
  } catch {
    return undefined;
  }
};

export function hasRecord(): boolean {
  return existsSync(RECORD);
}

function record(): Record {
  const rec: Record = { sysctls: {}, dirs: {}, created: [] };
  for (const s of SYSCTLS) {
    try {
      rec.sysctls[s] = readFileSync(`/proc/sys/${s}`, 'utf8').trim();
    } catch {
      /* not on this kernel */
    }
  }
  for (const d of HARDCODED_DIRS) {
    rec.dirs[d] = existsSync(d) ? readdirSync(d) : null;
    // The topmost missing ancestor goes too, at restore.
    let top: string = d;
    for (let up: string = d; !existsSync(up); up = join(up, '..')) top = up;
    if (!existsSync(d)) rec.created.push(top);
  }
  return rec;
}

function cgroupHierarchies(): string[] {
  return readdirSync(CGROUP_FS)
    .map((h) => join(CGROUP_FS, h))
    .filter((h) => {
      try {
        return statSync(h).isDirectory() && existsSync(join(h, 'cgroup.procs'));
      } catch {
        return false;
      }
    });
}

export function setupHost(): void {
  writeFileSync(RECORD, JSON.stringify(record(), null, 2));
  for (const d of Object.values(DIR)) mkdirSync(d, { recursive: true });
  for (const d of HARDCODED_DIRS) mkdirSync(d, { recursive: true });

  // The node address: the kubelet refuses a loopback --node-ip and there is no dummy link type here.
  run('ip', ['link', 'add', NODE_LINK, 'type', 'bridge']);
  writeFileSync(`/proc/sys/net/ipv6/conf/${NODE_LINK}/disable_ipv6`, '1');
  run('ip', ['addr', 'add', `${NODE_IP}/32`, 'dev', NODE_LINK]);
  run('ip', ['link', 'set', NODE_LINK, 'up']);
  // No kube-proxy: with forwarding on, a service or cluster address without a
  // more specific route would otherwise follow the machine's default route out.
  run('ip', ['route', 'add', 'blackhole', SERVICE_CIDR]);
  run('ip', ['route', 'add', 'blackhole', CLUSTER_CIDR]);

  for (const h of cgroupHierarchies()) {
    const dir = join(h, CGROUP_ROOT);
    mkdirSync(dir, { recursive: true });
    if (h.endsWith('/cpuset')) {
      // A v1 cpuset child holds no task until its cpus and mems are set.
      writeFileSync(join(dir, 'cpuset.cpus'), readFileSync(join(h, 'cpuset.cpus'), 'utf8'));
      writeFileSync(join(dir, 'cpuset.mems'), readFileSync(join(h, 'cpuset.mems'), 'utf8'));
    }
  }

  // containerd refuses Bidirectional (and HostToContainer) propagation from a
  // private mount, and / is private without systemd: give those host dirs a
  // shared bind mount of their own. (The kubelet does this to its root dir itself.)
  for (const d of [DIR.state, DIR.netns]) {
    run('mount', ['--bind', d, d]);
    run('mount', ['--make-shared', d]);
  }
  writeFileSync(join(ROOT, 'resolv.conf'), 'nameserver 127.0.0.1\n');
}

/** Mount points at or below `dir`, deepest first. */
export function mountsUnder(dir: string): string[] {
  const out = new Set<string>();
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mp = line.split(' ')[4];
    if (mp && (mp === dir || mp.startsWith(`${dir}/`))) out.add(mp.replace(/\\040/g, ' '));
  }
  return [...out].sort((a, b) => b.length - a.length);
}

export function unmountAll(dir: string): void {
  for (let round = 0; round < 5; round++) {
    const mps = mountsUnder(dir);
    if (!mps.length) return;
    for (const mp of mps) tryRun('umount', ['-l', mp]);
  }
}

/** Loop devices whose backing file lives under ROOT (by path, or by inode when the path reads through a gone mount namespace). */
export function loopDevicesUnderRoot(): string[] {
  const text = tryRun('losetup', ['-J', '-l', '-O', 'NAME,BACK-FILE,BACK-INO,BACK-MAJ:MIN']);
  if (!text?.trim()) return [];
  const devs = (JSON.parse(text) as { loopdevices: Array<{ name: string; 'back-file': string | null; 'back-ino': string | number; 'back-maj:min': string }> })
    .loopdevices;
  const rootDev = statSync(ROOT, { throwIfNoEntry: false });
  const ours = new Set<string>();
  if (rootDev) {
    // Inodes of every file under the state dir (images live there).
    const inodes = tryRun('find', [DIR.state, '-xdev', '-type', 'f', '-printf', '%i\n']) ?? '';
    const set = new Set(inodes.split('\n').filter(Boolean));
    const maj = Math.floor(rootDev.dev / 256);
    const min = rootDev.dev % 256;
    for (const d of devs) {
      if (set.has(String(d['back-ino'])) && d['back-maj:min'] === `${maj}:${min}`) ours.add(d.name);
    }
  }
  for (const d of devs) if (d['back-file']?.includes('hostplane-e2e')) ours.add(d.name);
  return [...ours];
}

function removeLinks(): void {
  for (const br of [POD_BRIDGE, REF_BRIDGE]) {
    const ports = tryRun('ip', ['-o', 'link', 'show', 'master', br]) ?? '';
    for (const m of ports.matchAll(/^\d+: ([^:@]+)[@:]/gm)) tryRun('ip', ['link', 'del', m[1]!]);
    tryRun('ip', ['link', 'del', br]);
  }
  tryRun('ip', ['link', 'del', NODE_LINK]);
  tryRun('ip', ['route', 'del', 'blackhole', SERVICE_CIDR]);
  tryRun('ip', ['route', 'del', 'blackhole', CLUSTER_CIDR]);
}

/** The kubelet's KUBE-* chains (KUBE-FIREWALL, KUBE-KUBELET-CANARY, KUBE-IPTABLES-HINT), in every table, both families. */
export function removeKubeChains(): void {
  for (const tool of ['iptables', 'ip6tables']) {
    for (const table of ['filter', 'nat', 'mangle']) {
      const rules = tryRun(tool, ['-w', '-t', table, '-S']);
      if (!rules) continue;
      for (const line of rules.split('\n')) {
        if (line.startsWith('-A ') && / -j KUBE-/.test(line)) tryRun(tool, ['-w', '-t', table, '-D', ...line.slice(3).split(' ')]);
      }
      for (const m of rules.matchAll(/^-N (KUBE-\S+)$/gm)) tryRun(tool, ['-w', '-t', table, '-F', m[1]!]);
      for (const m of rules.matchAll(/^-N (KUBE-\S+)$/gm)) tryRun(tool, ['-w', '-t', table, '-X', m[1]!]);
    }
  }
}

function removeCgroups(): void {
  for (const h of cgroupHierarchies()) {
    const top = join(h, CGROUP_ROOT);
    if (!existsSync(top)) continue;
    const dirs = (tryRun('find', [top, '-depth', '-type', 'd']) ?? '').split('\n').filter(Boolean);
    for (const d of dirs) {
      try {
        rmdirSync(d);
      } catch {
        /* busy: reported by leftovers() */
      }
    }
  }
}

/** Pids still in the node's cgroups (containers whose shim died with containerd). */
export function pidsInCgroups(): number[] {
  const pids = new Set<number>();
  for (const h of cgroupHierarchies()) {
    const top = join(h, CGROUP_ROOT);
    if (!existsSync(top)) continue;
    for (const f of (tryRun('find', [top, '-name', 'cgroup.procs']) ?? '').split('\n').filter(Boolean)) {
      try {
        for (const l of readFileSync(f, 'utf8').split('\n')) if (l) pids.add(Number(l));
      } catch {
        /* gone */
      }
    }
  }
  return [...pids];
}

export function restoreHost(): void {
  unmountAll(ROOT);
  for (const dev of loopDevicesUnderRoot()) tryRun('losetup', ['-d', dev]);
  removeLinks();
  removeKubeChains();
  removeCgroups();
  let rec: Record | undefined;
  try {
    rec = JSON.parse(readFileSync(RECORD, 'utf8')) as Record;
  } catch {
    /* no record: nothing else to restore */
  }
  if (rec) {
    for (const [s, v] of Object.entries(rec.sysctls)) {
      try {
        writeFileSync(`/proc/sys/${s}`, v);
      } catch {
        /* read-only here */
      }
    }
    for (const [d, entries] of Object.entries(rec.dirs)) {
      if (entries === null || !existsSync(d)) continue;
      for (const e of readdirSync(d)) if (!entries.includes(e)) rmSync(join(d, e), { recursive: true, force: true });
    }
    for (const top of rec.created) {
      unmountAll(top);
      rmSync(top, { recursive: true, force: true });
    }
  }
  if (mountsUnder(ROOT).length === 0) rmSync(ROOT, { recursive: true, force: true });
  rmSync(RECORD, { force: true });
}

/** What a teardown left behind (a test asserts this is empty). */
export function leftovers(): string[] {
  const out: string[] = [];
  for (const mp of mountsUnder(ROOT)) out.push(`mount ${mp}`);
  for (const d of loopDevicesUnderRoot()) out.push(`loop device ${d}`);
  for (const l of [NODE_LINK, POD_BRIDGE, REF_BRIDGE]) if (tryRun('ip', ['link', 'show', l]) !== undefined) out.push(`link ${l}`);
  const routes = tryRun('ip', ['route', 'show', 'type', 'blackhole']) ?? '';
  for (const c of [SERVICE_CIDR, CLUSTER_CIDR]) if (routes.includes(c)) out.push(`route blackhole ${c}`);
  for (const tool of ['iptables', 'ip6tables']) {
    for (const table of ['filter', 'nat', 'mangle']) {
      for (const m of (tryRun(tool, ['-w', '-t', table, '-S']) ?? '').matchAll(/^-N (KUBE-\S+)$/gm)) out.push(`${tool} -t ${table} chain ${m[1]}`);
    }
  }
  for (const h of cgroupHierarchies()) if (existsSync(join(h, CGROUP_ROOT))) out.push(`cgroup ${join(h, CGROUP_ROOT)}`);
  if (existsSync(ROOT)) out.push(`dir ${ROOT}`);
  if (existsSync(RECORD)) out.push(`file ${RECORD}`);
  return out;
}
