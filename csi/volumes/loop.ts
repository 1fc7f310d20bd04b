// Loop devices: the kernel object that turns a volume's image file into a
// block device. `losetup -J` is the source of truth after a restart or a
// reboot (loop devices do not survive one), never our own memory.
//
// A loop device is identified by its backing file's inode and device, never
// by the path the kernel shows for it. The kernel renders `backing_file`
// through the mount the file was opened by: once the mount namespace that
// attached it is gone (the previous agent container of a rolling update),
// `/var/lib/hostplane/csi/images/v-….img` reads as `/csi/images/v-….img`, and a
// path match misses a device that still holds our image. Inode and device
// survive any namespace; the file's own name (the last path component) does
// too, which keeps the hot path spawn-free when nothing is attached.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { ExecError, type HostExec } from '../../lib/exec.ts';
import { HelperExitedError, type CsiHelper } from './helper-client.ts';
import type { HelperReply } from './helper-protocol.ts';
import { fileIdentity, sameFile, type FileIdentity } from './loop-identity.ts';

export { devString, fileIdentity, sameFile, type FileIdentity } from './loop-identity.ts';

export interface LoopInfo {
  device: string;
  /** As the kernel renders it for us: informative only, never matched on. */
  backingFile: string;
  backing?: FileIdentity;
}

export interface LoopDevices {
  /** Every attached loop device with its backing identity (`losetup -J`: the start-up inventory). */
  list(): Promise<LoopInfo[]>;
  /** The devices whose backing file is `image` (same inode and device); none when the image is gone. */
  findAll(image: string): Promise<string[]>;
  /** The device attached to `image`, if any: the per-call fast path. */
  find(image: string): Promise<string | undefined>;
  /** Attach `image`, or return the device already attached to it (never a second one). */
  attach(image: string, opts?: { directIo?: boolean; readOnly?: boolean }): Promise<string>;
  /** Free `device`. A device still open (mounted) is only marked to free itself on last close. */
  detach(device: string): Promise<void>;
  /** Re-read the backing file's size after it grew (`losetup -c`). */
  refreshSize(device: string): Promise<void>;
  setDirectIo(device: string, on: boolean): Promise<void>;
  /** Read-ahead in KiB (blockdev counts 512-byte sectors). */
  setReadAheadKB(device: string, kb: number): Promise<void>;
}

// The kernel appends " (deleted)" to a backing file that was unlinked.
const DELETED = ' (deleted)';
const stripDeleted = (p: string) => (p.endsWith(DELETED) ? p.slice(0, -DELETED.length) : p);

interface LosetupJson {
  loopdevices?: { name: string; 'back-file'?: string | null; 'back-ino'?: string | number | null; 'back-maj:min'?: string | null }[];
}

/** `losetup -J -l -O NAME,BACK-FILE,BACK-INO,BACK-MAJ:MIN` output. */
export function parseLosetup(stdout: string): LoopInfo[] {
  if (!stdout.trim()) return [];
  // Inode numbers may exceed 2^53: keep them as the digits losetup printed.
  const j = JSON.parse(stdout.replace(/("back-ino":\s*)(\d+)/g, '$1"$2"')) as LosetupJson;
  return (j.loopdevices ?? [])
    .filter((d) => d['back-file'] || d['back-ino'])
    .map((d) => {
      const ino = d['back-ino'] == null ? '' : String(d['back-ino']).trim();
      const dev = (d['back-maj:min'] ?? '').trim();
      const info: LoopInfo = { device: d.name, backingFile: stripDeleted(d['back-file'] ?? '') };
      if (ino && dev) info.backing = { ino, dev };
      return info;
    });
}

/** A failed helper answer, shaped like the tool's failure it replaces (callers match on neither). */
function helperFailure(tool: string, args: string[], r: HelperReply): ExecError {
  return new ExecError(tool, args, 1, r.error ?? 'failed');
}

/**
 * Loop devices through the kernel: by syscalls in the CSI helper when there
 * is one (helper-client.ts), else (and for anything it does not do) by
 * losetup. The identity rules are the same either way: inode and device,
 * diskseq for what we already know.
 */
export class RealLoopDevices implements LoopDevices {
  private readonly exec: HostExec;
  private readonly helper: CsiHelper | undefined;
  constructor(exec: HostExec, helper?: CsiHelper) {
    this.exec = exec;
    this.helper = helper;
  }

  /** The helper's ok answer; undefined: do it with the tool (no helper, not its kind of work, or it died mid-way). */
  private async viaHelper(req: Parameters<CsiHelper['call']>[0], tool: string, args: string[]): Promise<HelperReply | undefined> {
    if (!this.helper) return undefined;
    let r: HelperReply | undefined;
    try {
      r = await this.helper.call(req);
    } catch (e) {
      if (e instanceof HelperExitedError) return undefined;
      throw e;
    }
    if (!r || r.unsupported) return undefined;
    if (!r.ok) throw helperFailure(tool, args, r);
    return r;
  }

  // What each device we have seen is attached to, keyed by the kernel's
  // `diskseq`, which changes at every attach: a device whose diskseq is the
  // one we recorded still holds the same file, so its identity needs no
  // losetup run. Filled by attach() and by every listing; a device we do not
  // know, or whose diskseq moved on, sends the lookup to losetup.
  private readonly known = new Map<string, { seq: string; backing: FileIdentity }>();

  private async diskseq(device: string): Promise<string | undefined> {
    try {
      return readFileSync(`/sys/block/${basename(device)}/diskseq`, 'utf8').trim() || undefined;
    } catch {
      return undefined; // unbound, or a kernel without diskseq (< 5.15)
    }
  }

  async list(): Promise<LoopInfo[]> {
    const h = await this.viaHelper({ op: 'loop-list' }, 'losetup', ['--list']);
    if (h?.loops) {
      this.known.clear();
      const out: LoopInfo[] = [];
      for (const l of h.loops) {
        const backing = { ino: l.ino, dev: l.dev };
        // The helper read diskseq on both sides of its look: a seq means the attachment held still.
        if (l.diskseq) this.known.set(l.device, { seq: l.diskseq, backing });
        let backingFile = '';
        try {
          backingFile = stripDeleted(readFileSync(`/sys/block/${basename(l.device)}/loop/backing_file`, 'utf8').replace(/\n$/, ''));
        } catch {
          /* detached since: informative only */
        }
        out.push({ device: l.device, backingFile, backing });
      }
      return out;
    }
    const before = await this.seqs();
    const r = await this.exec.run('losetup', ['-J', '-l', '-O', 'NAME,BACK-FILE,BACK-INO,BACK-MAJ:MIN']);
    const out = parseLosetup(r.stdout);
    const after = await this.seqs();
    this.known.clear();
    // Only an attachment that did not change while losetup looked is remembered.
    for (const l of out) {
      const seq = before.get(l.device);
      if (l.backing && seq && after.get(l.device) === seq) this.known.set(l.device, { seq, backing: l.backing });
    }
    return out;
  }

  private async seqs(): Promise<Map<string, string>> {
    const m = new Map<string, string>();
    for (const c of (await this.bound(() => true)) ?? []) if (c.seq) m.set(c.device, c.seq);
    return m;
  }

  /** Bound loop devices as sysfs shows them, with the diskseq of those `wantSeq` picks by name (undefined: no sysfs here). */
  private async bound(wantSeq: (name: string) => boolean): Promise<{ device: string; name: string; seq?: string }[] | undefined> {
    let names: string[];
    try {
      // sysfs is kernel memory: read in place (no thread-pool round trip).
      names = readdirSync('/sys/block').filter((n) => n.startsWith('loop'));
    } catch {
      return undefined;
    }
    const out: { device: string; name: string; seq?: string }[] = [];
    for (const n of names) {
      // Only a bound device has a loop/ directory: asking first spares an exception per free device.
      if (!existsSync(`/sys/block/${n}/loop`)) continue;
      let back: string;
      try {
        back = readFileSync(`/sys/block/${n}/loop/backing_file`, 'utf8').replace(/\n$/, '');
      } catch {
        continue; // not bound
      }
      const name = basename(stripDeleted(back));
      const seq = wantSeq(name) ? await this.diskseq(n) : undefined;
      out.push({ device: `/dev/${n}`, name, ...(seq ? { seq } : {}) });
    }
    return out;
  }

  // sysfs shows each bound device's backing path; its last component is the
  // image's own name whatever namespace rendered the rest. When no device
  // carries that name, nothing holds the image and no process is spawned (a
  // spawn costs 10-40 ms on a busy node); when every one that does is known
  // by its diskseq, none is either; otherwise `losetup` settles it by inode
  // and device.
  async findAll(image: string): Promise<string[]> {
    const id = await fileIdentity(image);
    if (!id) return [];
    const want = basename(image);
    const bound = await this.bound((name) => name === want);
    const named = bound?.filter((b) => b.name === want);
    if (named && !named.length) return [];
    if (named?.every((b) => b.seq && this.known.get(b.device)?.seq === b.seq)) {
      return named.filter((b) => sameFile(this.known.get(b.device)!.backing, id)).map((b) => b.device);
    }
    return (await this.list()).filter((l) => sameFile(l.backing, id)).map((l) => l.device);
  }

  async find(image: string): Promise<string | undefined> {
    return (await this.findAll(image))[0];
  }

  async attach(image: string, opts: { directIo?: boolean; readOnly?: boolean } = {}): Promise<string> {
    const existing = await this.find(image);
    if (existing) return existing;
    const id = await fileIdentity(image);
    if (this.helper) {
      let r: HelperReply | undefined;
      try {
        r = await this.helper.call({ op: 'loop-attach', image, ...(opts.directIo ? { directIo: true } : {}), ...(opts.readOnly ? { readOnly: true } : {}) });
      } catch (e) {
        if (!(e instanceof HelperExitedError)) throw e;
        // It may have attached before it died: never a second device.
        const got = await this.find(image);
        if (got) return got;
      }
      if (r?.ok && r.device) {
        // We attached it by path in our own namespace: its file is the one we stat'ed.
        if (id && r.diskseq) this.known.set(r.device, { seq: r.diskseq, backing: id });
        return r.device;
      }
      if (r && !r.ok && !r.unsupported) throw helperFailure('losetup', ['--find', '--show', image], r);
    }
    const args = ['--find', '--show'];
    if (opts.directIo) args.push('--direct-io=on');
    if (opts.readOnly) args.push('--read-only');
    const r = await this.exec.run('losetup', [...args, image]);
    const device = r.stdout.trim();
    // We attached it by path in our own namespace: its file is the one we stat'ed.
    const seq = await this.diskseq(device);
    if (id && seq) this.known.set(device, { seq, backing: id });
    return device;
  }

  async detach(device: string): Promise<void> {
    this.known.delete(device);
    if (await this.viaHelper({ op: 'loop-detach', device }, 'losetup', ['-d', device])) return;
    const r = await this.exec.run('losetup', ['-d', device], { allowFail: true });
    // Already detached (or the number reused by nobody) is the outcome we wanted.
    if (r.exitCode !== 0 && !/No such device|No such file|not configured/i.test(r.stderr)) {
      throw new Error(`losetup -d ${device}: ${r.stderr.trim()}`);
    }
  }

  async refreshSize(device: string): Promise<void> {
    if (await this.viaHelper({ op: 'loop-capacity', device }, 'losetup', ['-c', device])) return;
    await this.exec.run('losetup', ['-c', device]);
  }

  async setDirectIo(device: string, on: boolean): Promise<void> {
    if (await this.viaHelper({ op: 'loop-direct-io', device, on }, 'losetup', [`--direct-io=${on ? 'on' : 'off'}`, device])) return;
    await this.exec.run('losetup', [`--direct-io=${on ? 'on' : 'off'}`, device]);
  }

  async setReadAheadKB(device: string, kb: number): Promise<void> {
    if (this.helper) {
      // The block queue's own knob: no tool needed.
      try {
        await writeFile(`/sys/block/${basename(device)}/queue/read_ahead_kb`, String(kb));
        return;
      } catch {
        /* no sysfs here: blockdev */
      }
    }
    await this.exec.run('blockdev', ['--setra', String(kb * 2), device]);
  }
}

/** How long a detached loop device may stay open by someone else before we call it in use. */
export const RELEASE_GRACE_MS = 5000;

/**
 * Detach every loop device holding `image`, and report the ones that still
 * hold it afterwards. A device nobody has open is freed at once; one still
 * open (mounted in some namespace, opened by a process) is only marked to
 * free itself at its last close (autoclear), so a short grace covers brief
 * openers (a blkid or lsblk probing every device, a mount namespace created
 * while the volume was mounted and not yet gone) and anything left is in use.
 */
export async function releaseImage(loops: LoopDevices, image: string, graceMs = RELEASE_GRACE_MS): Promise<string[]> {
  const held = await loops.findAll(image);
  if (!held.length) return [];
  for (const d of held) await loops.detach(d);
  const deadline = Date.now() + graceMs;
  let left = await loops.findAll(image);
  // Back off (each look may cost a losetup run): 50, 100, 200 … ms.
  for (let wait = 50; left.length && Date.now() < deadline; wait *= 2) {
    await new Promise((r) => setTimeout(r, Math.min(wait, Math.max(0, deadline - Date.now()))));
    left = await loops.findAll(image);
  }
  return left;
}

/** Apply a volume's mutable parameters (see csi/parameters.ts) to its loop device. */
export async function applyMutable(loops: LoopDevices, device: string, p: Record<string, string>): Promise<void> {
  if (p.readAheadKB !== undefined) await loops.setReadAheadKB(device, Number(p.readAheadKB));
  if (p.directIO !== undefined) await loops.setDirectIo(device, p.directIO === 'true');
}
