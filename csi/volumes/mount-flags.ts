// A CO's mount options as mount(2) takes them: the per-mount flags mount(8)
// turns into MS_* bits, the rest the filesystem's data string, in order. The
// syscall path (kernel-ffi.ts) uses it; an option only mount(8) itself knows
// (user, loop=, helpers…) throws UnsupportedMountOption so the caller runs
// mount(8) instead, which keeps the exact semantics a CO expects.

const MS = {
  RDONLY: 1,
  NOSUID: 2,
  NODEV: 4,
  NOEXEC: 8,
  SYNCHRONOUS: 16,
  MANDLOCK: 64,
  DIRSYNC: 128,
  NOSYMFOLLOW: 256,
  NOATIME: 1024,
  NODIRATIME: 2048,
  SILENT: 32768,
  RELATIME: 1 << 21,
  STRICTATIME: 1 << 24,
  LAZYTIME: 1 << 25,
} as const;

// [set, clear]: a later option wins over an earlier one, as in mount(8).
const FLAG_OPTIONS: Record<string, [number, number]> = {
  ro: [MS.RDONLY, 0],
  rw: [0, MS.RDONLY],
  nosuid: [MS.NOSUID, 0],
  suid: [0, MS.NOSUID],
  nodev: [MS.NODEV, 0],
  dev: [0, MS.NODEV],
  noexec: [MS.NOEXEC, 0],
  exec: [0, MS.NOEXEC],
  sync: [MS.SYNCHRONOUS, 0],
  async: [0, MS.SYNCHRONOUS],
  dirsync: [MS.DIRSYNC, 0],
  mand: [MS.MANDLOCK, 0],
  nomand: [0, MS.MANDLOCK],
  nosymfollow: [MS.NOSYMFOLLOW, 0],
  noatime: [MS.NOATIME, 0],
  atime: [0, MS.NOATIME],
  nodiratime: [MS.NODIRATIME, 0],
  diratime: [0, MS.NODIRATIME],
  relatime: [MS.RELATIME, 0],
  norelatime: [0, MS.RELATIME],
  strictatime: [MS.STRICTATIME, 0],
  nostrictatime: [0, MS.STRICTATIME],
  lazytime: [MS.LAZYTIME, 0],
  nolazytime: [0, MS.LAZYTIME],
  silent: [MS.SILENT, 0],
  loud: [0, MS.SILENT],
};

// fstab-only words mount(8) drops before the syscall.
const IGNORED = new Set(['defaults', 'auto', 'noauto', 'nofail', '_netdev']);
const IGNORED_PREFIX = ['x-', 'comment='];
// Options mount(8) acts on itself (users, loop set-up, helpers, ...): the syscall path does not imitate them.
const MOUNT8_ONLY = /^(user|users|nouser|owner|group|loop|offset|sizelimit|encryption|helper|uhelper|bind|rbind|remount|move|make-|X-mount\.)/;

export class UnsupportedMountOption extends Error {
  constructor(index: number) {
    // Never the option's text: options can carry secrets.
    super(`mount option #${index + 1} is handled by mount(8) only`);
    this.name = 'UnsupportedMountOption';
  }
}

/** MS_* bits and the data string for `options` (throws UnsupportedMountOption for mount(8)-only ones). */
export function mountFlagsOf(options: readonly string[]): { flags: number; data: string } {
  let flags = 0;
  const data: string[] = [];
  options.forEach((o, i) => {
    if (!o || IGNORED.has(o) || IGNORED_PREFIX.some((p) => o.startsWith(p))) return;
    const f = FLAG_OPTIONS[o];
    if (f) {
      flags = (flags | f[0]) & ~f[1];
      return;
    }
    if (MOUNT8_ONLY.test(o)) throw new UnsupportedMountOption(i);
    data.push(o);
  });
  return { flags, data: data.join(',') };
}
