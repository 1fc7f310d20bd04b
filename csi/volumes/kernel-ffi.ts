// mount(2), umount2(2) and the loop-device ioctls from TypeScript: bun:ffi to
// libc, for the `hostplane csi-helper` mode of the bun-compiled executable
// (helper-serve.ts). Each `mount`, `umount` or `losetup` exec costs 3.5-5.5 ms
// of tool start-up here; the syscall itself costs well under one. Only under
// bun: Node never loads this file (the driver reaches it through the helper).
//
// Nothing here logs. Mount data (the CO's flags) may carry credentials, so no
// error message built here names them.
import { dlopen, FFIType, ptr, read } from 'bun:ffi';
import { readFileSync, readdirSync } from 'node:fs';
import { devString } from './loop-identity.ts';
import { mountFlagsOf, UnsupportedMountOption } from './mount-flags.ts';

const O_RDONLY = 0,
  O_RDWR = 2,
  O_CLOEXEC = 0o2000000,
  O_DIRECT = 0o40000;
const LOOP_CLR_FD = 0x4c01,
  LOOP_GET_STATUS64 = 0x4c05,
  LOOP_SET_CAPACITY = 0x4c07,
  LOOP_SET_DIRECT_IO = 0x4c08,
  LOOP_CONFIGURE = 0x4c0a,
  LOOP_CTL_GET_FREE = 0x4c82;
const LO_FLAGS_READ_ONLY = 1,
  LO_FLAGS_DIRECT_IO = 16;
const MS_REMOUNT = 32,
  MS_BIND = 4096;

const { symbols: c } = dlopen('libc.so.6', {
  open: { args: [FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
  close: { args: [FFIType.i32], returns: FFIType.i32 },
  // ioctl is variadic; on x86-64 and arm64 an integer or pointer third argument travels the same way.
  ioctl: { args: [FFIType.i32, FFIType.u64, FFIType.u64], returns: FFIType.i32 },
  mount: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.u64, FFIType.ptr], returns: FFIType.i32 },
  umount2: { args: [FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
  __errno_location: { args: [], returns: FFIType.ptr },
});

const cstr = (s: string) => Buffer.from(`${s}\0`);
const errno = () => read.i32(c.__errno_location() as number);

const ERRNO: Record<number, [string, string]> = {
  1: ['EPERM', 'Operation not permitted'],
  2: ['ENOENT', 'No such file or directory'],
  5: ['EIO', 'Input/output error'],
  6: ['ENXIO', 'No such device or address'],
  13: ['EACCES', 'Permission denied'],
  15: ['ENOTBLK', 'Block device required'],
  16: ['EBUSY', 'Device or resource busy'],
  19: ['ENODEV', 'No such device'],
  20: ['ENOTDIR', 'Not a directory'],
  22: ['EINVAL', 'Invalid argument'],
  25: ['ENOTTY', 'Inappropriate ioctl for device'],
  28: ['ENOSPC', 'No space left on device'],
  30: ['EROFS', 'Read-only file system'],
  117: ['EUCLEAN', 'Structure needs cleaning'],
};

/** A failed syscall: `code` is the errno name (EBUSY…), the message says what was asked and what the kernel said. */
export class KernelError extends Error {
  readonly code: string;
  readonly errno: number;
  constructor(what: string, e: number) {
    const [code, text] = ERRNO[e] ?? [`E${e}`, `errno ${e}`];
    super(`${what}: ${text}`);
    this.name = 'KernelError';
    this.code = code;
    this.errno = e;
  }
}

function openOrThrow(path: string, flags: number): number {
  const fd = c.open(ptr(cstr(path)), flags | O_CLOEXEC);
  if (fd < 0) throw new KernelError(`open ${path}`, errno());
  return fd;
}

function ioctlOn(device: string, what: string, req: number, arg: number, flags = O_RDONLY): void {
  const fd = openOrThrow(device, flags);
  try {
    if (c.ioctl(fd, req, arg) !== 0) throw new KernelError(`${what} ${device}`, errno());
  } finally {
    c.close(fd);
  }
}

export interface MountRequest {
  source: string;
  target: string;
  fsType?: string;
  flags?: string[];
  bind?: boolean;
  readOnly?: boolean;
}

/**
 * What `mount [-t T] [-o FLAGS] SOURCE TARGET` does, as syscalls: per-mount
 * flags become MS_* bits, filesystem options the data string. A bind mount
 * with per-mount flags is a bind and then a remount of that bind (the kernel
 * ignores flags on the bind itself), as mount(8) does. Options only mount(8)
 * understands are refused (mount-flags.ts) so the caller runs mount(8).
 */
export function mountNow(r: MountRequest): void {
  const f = mountFlagsOf([...(r.flags ?? []), ...(r.readOnly ? ['ro'] : [])]);
  const withheld = r.flags?.length ? `, ${r.flags.length} option(s) withheld` : '';
  const what = `mount ${r.source} on ${r.target} (${r.bind ? 'bind' : (r.fsType ?? 'auto')}${withheld})`;
  if (r.bind) {
    // Filesystem options on a bind: whatever mount(8) makes of them, it does.
    if (f.data) throw new UnsupportedMountOption(r.flags?.length ?? 0);
    if (c.mount(ptr(cstr(r.source)), ptr(cstr(r.target)), 0, MS_BIND, 0) !== 0) throw new KernelError(what, errno());
    if (f.flags) {
      if (c.mount(0, ptr(cstr(r.target)), 0, MS_REMOUNT | MS_BIND | f.flags, 0) !== 0) {
        const e = errno();
        // Never leave a bind with weaker flags than asked (a read-write view of a read-only volume).
        c.umount2(ptr(cstr(r.target)), 0);
        throw new KernelError(`${what}: remount`, e);
      }
    }
    return;
  }
  if (!r.fsType) throw new KernelError(`${what}: no filesystem type`, 22);
  const data = f.data ? ptr(cstr(f.data)) : 0;
  if (c.mount(ptr(cstr(r.source)), ptr(cstr(r.target)), ptr(cstr(r.fsType)), f.flags, data) !== 0) throw new KernelError(what, errno());
}

/** umount2(target, 0); then, with `detachLoop`, free that loop device (as `umount -d`). */
export function umountNow(target: string, detachLoop?: string): void {
  if (c.umount2(ptr(cstr(target)), 0) !== 0) {
    const e = errno();
    throw new KernelError(e === 22 ? `umount ${target}: not mounted` : `umount ${target}`, e);
  }
  if (detachLoop) loopDetach(detachLoop);
}

// struct loop_config { u32 fd; u32 block_size; struct loop_info64 info; u64 reserved[8] }
// struct loop_info64 { u64 device, inode, rdevice, offset, sizelimit; u32 number, encrypt_type, encrypt_key_size, flags; u8 file_name[64], crypt_name[64], encrypt_key[32]; u64 init[2] }
const INFO64_SIZE = 232;
const CONFIG_SIZE = 8 + INFO64_SIZE + 64;
const INFO_FLAGS = 52; // offset of lo_flags in loop_info64
const INFO_FILE_NAME = 56;

/**
 * Attach `image` to a free loop device (LOOP_CTL_GET_FREE, then one
 * LOOP_CONFIGURE: backing file, flags and all in one step); another process
 * taking the same free device first (EBUSY) sends it round again.
 * Returns the device and its diskseq (the attachment's identity).
 */
export function loopAttach(image: string, opts: { readOnly?: boolean; directIo?: boolean }): { device: string; diskseq?: string } {
  try {
    return attachOnce(image, opts);
  } catch (e) {
    // Direct I/O the backing filesystem cannot do (tmpfs; a block size it does
    // not allow): attached buffered instead, as `losetup --direct-io=on` does.
    if (!opts.directIo || !(e instanceof KernelError) || e.code !== 'EINVAL') throw e;
    return attachOnce(image, { ...opts, directIo: false });
  }
}

function attachOnce(image: string, opts: { readOnly?: boolean; directIo?: boolean }): { device: string; diskseq?: string } {
  const file = openOrThrow(image, (opts.readOnly ? O_RDONLY : O_RDWR) | (opts.directIo ? O_DIRECT : 0));
  try {
    const ctl = openOrThrow('/dev/loop-control', O_RDWR);
    try {
      for (let attempt = 0; ; attempt++) {
        const n = c.ioctl(ctl, LOOP_CTL_GET_FREE, 0);
        if (n < 0) throw new KernelError('LOOP_CTL_GET_FREE', errno());
        const device = `/dev/loop${n}`;
        const cfg = Buffer.alloc(CONFIG_SIZE);
        cfg.writeUInt32LE(file, 0);
        let flags = 0;
        if (opts.readOnly) flags |= LO_FLAGS_READ_ONLY;
        if (opts.directIo) flags |= LO_FLAGS_DIRECT_IO;
        cfg.writeUInt32LE(flags, 8 + INFO_FLAGS);
        Buffer.from(image)
          .subarray(0, 63)
          .copy(cfg, 8 + INFO_FILE_NAME);
        const dev = openOrThrow(device, opts.readOnly ? O_RDONLY : O_RDWR);
        try {
          if (c.ioctl(dev, LOOP_CONFIGURE, ptr(cfg)) === 0) return { device, ...diskseqOf(n) };
          const e = errno();
          if (e !== 16 || attempt >= 16) throw new KernelError(`LOOP_CONFIGURE ${device} (${image})`, e);
        } finally {
          c.close(dev);
        }
      }
    } finally {
      c.close(ctl);
    }
  } finally {
    c.close(file);
  }
}

function diskseqOf(n: number | string): { diskseq?: string } {
  try {
    const s = readFileSync(`/sys/block/loop${n}/diskseq`, 'utf8').trim();
    return s ? { diskseq: s } : {};
  } catch {
    return {};
  }
}

/** LOOP_CLR_FD: freed at once, or (still open somewhere) marked to free itself at its last close. Already free is done. */
export function loopDetach(device: string): void {
  try {
    ioctlOn(device, 'LOOP_CLR_FD', LOOP_CLR_FD, 0);
  } catch (e) {
    if (e instanceof KernelError && (e.code === 'ENXIO' || e.code === 'ENOENT')) return;
    throw e;
  }
}

export function loopSetCapacity(device: string): void {
  ioctlOn(device, 'LOOP_SET_CAPACITY', LOOP_SET_CAPACITY, 0);
}

export function loopSetDirectIo(device: string, on: boolean): void {
  ioctlOn(device, 'LOOP_SET_DIRECT_IO', LOOP_SET_DIRECT_IO, on ? 1 : 0);
}

export interface LoopEntry {
  device: string;
  /** Backing inode and device from LOOP_GET_STATUS64: true in any mount namespace. */
  ino: string;
  dev: string;
  diskseq?: string;
}

/** Every bound loop device with its backing identity (what `losetup -J -O BACK-INO,BACK-MAJ:MIN` prints). */
export function loopList(): LoopEntry[] {
  const out: LoopEntry[] = [];
  const info = Buffer.alloc(INFO64_SIZE);
  for (const name of readdirSync('/sys/block')) {
    if (!/^loop\d+$/.test(name)) continue;
    const device = `/dev/${name}`;
    // diskseq changes at every attach: the same value on both sides of the
    // look means the identity read belongs to it.
    const before = diskseqOf(name.slice(4)).diskseq;
    const fd = c.open(ptr(cstr(device)), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    try {
      // ENXIO: not bound.
      if (c.ioctl(fd, LOOP_GET_STATUS64, ptr(info)) !== 0) continue;
      const after = diskseqOf(name.slice(4)).diskseq;
      out.push({
        device,
        dev: devString(info.readBigUInt64LE(0)),
        ino: String(info.readBigUInt64LE(8)),
        ...(before && before === after ? { diskseq: after } : {}),
      });
    } finally {
      c.close(fd);
    }
  }
  return out;
}
