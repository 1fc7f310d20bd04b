// One file per leased address in <dataDir>/<network>/, named by the address,
// holding "containerID\r\nifname\r\nbootID" (host-local's layout plus the boot id,
// so existing leases port over). An address is reserved by creating its file
// exclusively: concurrent plugin processes collide safely and try the next one,
// and no lock exists that a SIGKILLed process could leave held. A process killed
// between create and write leaves an empty lease, which GC and the next boot
// reclaim like any other orphan.
import { openSync, writeSync, closeSync, readdirSync, readFileSync, unlinkSync, mkdirSync, accessSync, writeFileSync, renameSync, constants } from 'node:fs';
import { join } from 'node:path';
import { parseIp } from './ip.ts';
import { isNotFound, errnoCode } from '../../lib/errors.ts';

export interface Lease {
  ip: string;
  containerId: string;
  ifname: string;
  bootId: string;
}

const BOOT_MARKER = '.hostplane-boot-id';

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
      const [containerId = '', ifname = '', bootId = ''] = readFileSync(join(this.dir, ip), 'utf8').split(/\r?\n/);
      return { ip, containerId: containerId.trim(), ifname: ifname.trim(), bootId: bootId.trim() };
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  all(): Lease[] {
    return this.leasedIps().map((ip) => this.read(ip)).filter((l): l is Lease => l !== undefined);
  }

  /** Exclusive create: true when this process now owns `ip`. */
  tryReserve(ip: string, containerId: string, ifname: string): boolean {
    let fd: number;
    try {
      fd = openSync(join(this.dir, ip), 'wx', 0o644);
    } catch (e) {
      if (errnoCode(e) === 'EEXIST') return false;
      throw e;
    }
    try {
      writeSync(fd, `${containerId}\r\n${ifname}\r\n${this.bootId}`);
    } finally {
      closeSync(fd);
    }
    return true;
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
    if (!this.fromEarlierBoot()) return [];
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
