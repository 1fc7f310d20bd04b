// One file per leased address in <dataDir>/<network>/, named by the address,
// holding "containerID\r\nifname\r\nbootID" (host-local's layout plus the boot id,
// so existing leases port over). An address is reserved by hard-linking a
// fully written temp file to the address's name: link(2) fails with EEXIST when
// the name is taken, so concurrent plugin processes collide safely and try the
// next address, a lease is never visible half-written, and no lock exists that
// a SIGKILLed process could leave held (at worst it leaves a temp file, which
// GC removes, or a lease, which its DEL or GC releases).
import { readdirSync, readFileSync, unlinkSync, mkdirSync, accessSync, writeFileSync, renameSync, linkSync, constants } from 'node:fs';
import { join } from 'node:path';
import { parseIp } from './ip.ts';
import { isNotFound, errnoCode } from '../../lib/errors.ts';

export interface Lease {
  ip: string;
  containerId: string;
  ifname: string;
  bootId: string;
  /**
   * Set by the agent's DEL: the attachment is released and its teardown
   * scheduled, but the address stays taken until the veth is gone (so it is
   * never on two live veths). `masq`: the teardown also removes the address
   * from the masquerade set. A restarted agent (or GC) finishes the teardown.
   */
  releasing?: { masq: boolean };
}

const RELEASING = 'releasing';

const BOOT_MARKER = '.hostplane-boot-id';
const TMP_PREFIX = '.lease-';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errnoCode(e) === 'EPERM';
  }
}

export class LeaseStore {
  readonly dir: string;
  private readonly bootId: string;
  constructor(dataDir: string, network: string, bootId: string) {
    this.dir = join(dataDir, network);
    this.bootId = bootId;
  }

  ensureDir(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o755 });
  }

  /** Addresses with a lease file (other files in the directory are ignored). */
  leasedIps(): string[] {
    try {
      return readdirSync(this.dir).filter((f) => parseIp(f) !== undefined);
    } catch (e) {
      if (isNotFound(e)) return [];
      throw e;
    }
  }

  read(ip: string): Lease | undefined {
    try {
      const [containerId = '', ifname = '', bootId = '', state = ''] = readFileSync(join(this.dir, ip), 'utf8').split(/\r?\n/);
      const lease: Lease = { ip, containerId: containerId.trim(), ifname: ifname.trim(), bootId: bootId.trim() };
      const [word, flag] = state.trim().split(' ');
      if (word === RELEASING) lease.releasing = { masq: flag === 'masq' };
      return lease;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  all(): Lease[] {
    return this.leasedIps()
      .map((ip) => this.read(ip))
      .filter((l): l is Lease => l !== undefined);
  }

  /** Exclusive create: true when this process now owns `ip`. */
  tryReserve(ip: string, containerId: string, ifname: string): boolean {
    const tmp = join(this.dir, `${TMP_PREFIX}${process.pid}-${ip}`);
    writeFileSync(tmp, `${containerId}\r\n${ifname}\r\n${this.bootId}`, { mode: 0o644 });
    try {
      linkSync(tmp, join(this.dir, ip));
      return true;
    } catch (e) {
      if (errnoCode(e) === 'EEXIST') return false;
      throw e;
    } finally {
      unlinkSync(tmp);
    }
  }

  /**
   * Rewrite an existing lease in place (temp + rename: readers see the old or
   * the new content, never a torn file): mark it releasing, or take it back.
   */
  rewrite(l: Lease, releasing: { masq: boolean } | undefined): void {
    const tmp = join(this.dir, `${TMP_PREFIX}${process.pid}-${l.ip}.rw`);
    const state = releasing ? `\r\n${RELEASING}${releasing.masq ? ' masq' : ''}` : '';
    writeFileSync(tmp, `${l.containerId}\r\n${l.ifname}\r\n${l.bootId}${state}`, { mode: 0o644 });
    renameSync(tmp, join(this.dir, l.ip));
  }

  /** Release `ip` only if it is still the releasing lease of this attachment (a retried ADD may have taken it back). */
  releaseIfReleasing(ip: string, containerId: string, ifname: string): boolean {
    const l = this.read(ip);
    if (!l?.releasing || l.containerId !== containerId || l.ifname !== ifname) return false;
    this.release(ip);
    return true;
  }

  /** GC: temp files of processes that died mid-reservation. */
  removeOrphanTemps(): void {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return;
    }
    for (const f of names) {
      const m = /^\.lease-(\d+)-/.exec(f);
      if (m && !alive(Number(m[1]))) this.release(f);
    }
  }

  release(ip: string): void {
    try {
      unlinkSync(join(this.dir, ip));
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }

  byOwner(containerId: string, ifname: string): Lease[] {
    return this.all().filter((l) => l.containerId === containerId && l.ifname === ifname);
  }

  /** True when the leases were written during an earlier boot (their netns are long gone). */
  fromEarlierBoot(): boolean {
    try {
      return readFileSync(join(this.dir, BOOT_MARKER), 'utf8').trim() !== this.bootId;
    } catch (e) {
      if (isNotFound(e)) return this.leasedIps().length > 0;
      throw e;
    }
  }

  /**
   * Release the leases of earlier boots, then record this boot. Concurrent
   * sweepers are harmless: each only deletes leases whose boot id is not this one.
   */
  reclaimEarlierBoots(): string[] {
    let marker: string | undefined;
    try {
      marker = readFileSync(join(this.dir, BOOT_MARKER), 'utf8').trim();
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    if (marker === this.bootId) return [];
    const gone: string[] = [];
    for (const l of this.all()) {
      if (l.bootId !== this.bootId) {
        this.release(l.ip);
        gone.push(l.ip);
      }
    }
    // Temp + rename so readers never see a half-written marker. No fsync: a
    // marker lost in a crash only costs one more (harmless) sweep.
    const tmp = join(this.dir, `${BOOT_MARKER}.${process.pid}.tmp`);
    writeFileSync(tmp, this.bootId);
    renameSync(tmp, join(this.dir, BOOT_MARKER));
    return gone;
  }

  /** STATUS: the directory (or the nearest existing parent) must be readable and writable. */
  accessible(): boolean {
    for (let d = this.dir; ; d = join(d, '..')) {
      try {
        accessSync(d, constants.R_OK | constants.W_OK | constants.X_OK);
        return true;
      } catch (e) {
        if (!isNotFound(e)) return false;
        if (d === '/') return false;
      }
    }
  }
}
