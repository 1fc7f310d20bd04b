// Spare images: a small pool of sparse images already holding a fresh, empty
// filesystem, of the sizes and types recently asked for, so that Stage of a
// new filesystem volume mounts at once instead of running mkfs (its biggest
// cost: ~7-10 ms of a ~35 ms lifecycle). CreateVolume of a blank filesystem
// volume takes one by an atomic rename into <data-dir>/images; the pool is
// topped up in the background, one image at a time.
//
// Crash safety: a spare is made under a dot-name (.<fs>-<bytes>-<n>.tmp),
// formatted and fsync'd, and only then renamed to its usable name; start-up
// (reconcile) removes dot-names, so a half-made spare is never used. A taken
// spare that a crash un-renames is an orphan-free case: the record says
// `formatted`, the image is missing, and reconcile makes a blank one instead.
//
// Bounded: at most `max` spares in all, `perKey` of one size and type; the
// least recently asked-for kind goes first. Accounted: spares use real disk
// (ext4 ~0.7 MiB, xfs ~64 MiB per image), which capacity.ts counts as held
// by the driver but not promised, and a refill happens only while the disk
// has room for the spare and for a volume of that size besides.
import { readdir, rename, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Logger } from '../../lib/logging.ts';
import { errorMessage, isNotFound } from '../../lib/errors.ts';
import type { FsType, Filesystems } from './filesystem.ts';
import { allocatedBytes, createImage, syncImage } from './image.ts';

export interface SparePolicy {
  /** Spares kept in all (0: none, Stage runs mkfs). */
  max: number;
  /** Spares kept of one size and filesystem type. */
  perKey: number;
}

export const DEFAULT_SPARES: SparePolicy = { max: 2, perKey: 1 };

const SPARE_NAME = /^(ext4|xfs)-(\d+)-(\d+)\.img$/;
const keyOf = (fsType: string, bytes: number) => `${fsType}-${bytes}`;

export interface SparePoolDeps {
  dir: string;
  fs: Filesystems;
  log: Logger;
  policy: SparePolicy;
  /** Whether a spare of `bytes` may be made now (capacity.ts: room for it and for a volume of that size). */
  roomFor(bytes: number): Promise<boolean>;
  /**
   * Whether the driver is between calls. mkfs and its fsync compete for the
   * CPU and the filesystem's journal with the calls it is meant to speed up,
   * so a spare is only made while none runs.
   */
  idle(): boolean;
  /** How long to wait for idleness between looks (ms). */
  idleCheckMs?: number;
}

export class SparePool {
  private readonly d: SparePoolDeps;
  /** Usable spares by key, oldest first. */
  private readonly ready = new Map<string, string[]>();
  /** Keys by when they were last asked for (most recent last). */
  private readonly wanted: string[] = [];
  private filling: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private seq = 0;
  private closed = false;

  constructor(deps: SparePoolDeps) {
    this.d = deps;
  }

  /** Start-up: drop half-made spares (dot-names), keep complete ones up to the bounds. Call before serving. */
  async load(): Promise<{ removed: string[] }> {
    const removed: string[] = [];
    let names: string[];
    try {
      names = await readdir(this.d.dir);
    } catch (e) {
      if (isNotFound(e)) return { removed };
      throw e;
    }
    for (const n of names.sort()) {
      const m = SPARE_NAME.exec(n);
      const key = m ? keyOf(m[1]!, Number(m[2])) : undefined;
      if (!key || this.total() >= this.d.policy.max || this.countOf(key) >= this.d.policy.perKey) {
        await rm(join(this.d.dir, n), { force: true, recursive: true });
        removed.push(n);
        continue;
      }
      this.seq = Math.max(this.seq, Number(m![3]));
      this.list(key).push(join(this.d.dir, n));
      this.touch(key);
    }
    return { removed };
  }

  /**
   * Move a spare of `fsType` and exactly `bytes` to `dest`: true when one was
   * there. Either way this kind is now the most wanted, and the pool is
   * topped up in the background.
   */
  async take(fsType: FsType, bytes: number, dest: string): Promise<boolean> {
    if (this.d.policy.max <= 0) return false;
    const key = keyOf(fsType, bytes);
    this.touch(key);
    const spare = this.list(key).shift();
    let taken = false;
    if (spare) {
      try {
        await rename(spare, dest);
        taken = true;
      } catch (e) {
        this.d.log.warn({ spare: basename(spare), err: errorMessage(e) }, 'spare image could not be taken; formatting at Stage');
      }
    }
    this.refill();
    return taken;
  }

  /** Remove every spare (the disk is short: their space goes back to the pool). */
  async drain(): Promise<void> {
    const all = [...this.ready.values()].flat();
    this.ready.clear();
    for (const f of all) await rm(f, { force: true });
  }

  /** Stop refilling; waits for a spare being made. Spares on disk stay for the next start. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.filling;
  }

  /** Spares ready now (tests, stats). */
  count(): number {
    return this.total();
  }

  /** Resolves when no refill is due or running (tests). */
  async settled(): Promise<void> {
    while (this.filling || this.timer) {
      if (this.filling) await this.filling;
      else await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Top up once the driver is idle (never inside the call that asked). */
  private refill(): void {
    if (this.filling || this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.closed) return;
      if (!this.d.idle()) return this.refill();
      this.startFill();
    }, this.d.idleCheckMs ?? 10);
    this.timer.unref();
  }

  private startFill(): void {
    this.filling = this.fillLoop()
      .catch((e: unknown) => {
        if (!this.closed) this.d.log.warn({ err: errorMessage(e) }, 'making a spare image failed; Stage formats until the next try');
        return false;
      })
      .then((again) => {
        this.filling = undefined;
        if (again) this.refill();
      });
  }

  /** Make spares until the pool is full; true: stopped because a call came in, go on later. */
  private async fillLoop(): Promise<boolean> {
    for (;;) {
      if (this.closed) return false;
      if (!this.d.idle()) return true;
      const key = [...this.wanted].reverse().find((k) => this.countOf(k) < this.d.policy.perKey);
      if (!key) return false;
      if (this.total() >= this.d.policy.max) {
        // Make room: the least recently wanted kind that has spares gives one up.
        // Only a kind wanted less recently than this one gives way (not
        // remembered at all counts as least recent), or two kinds would evict
        // each other for ever.
        const rank = (k: string) => this.wanted.indexOf(k);
        const held = [...this.ready.keys()].filter((k) => this.countOf(k) > 0 && rank(k) < rank(key));
        const victim = held.sort((a, b) => rank(a) - rank(b))[0];
        if (!victim) return false;
        const f = this.list(victim).shift()!;
        await rm(f, { force: true });
        continue;
      }
      const [fsType, size] = key.split('-') as [FsType, string];
      const bytes = Number(size);
      if (!(await this.d.roomFor(bytes))) return false;
      const n = ++this.seq;
      const tmp = join(this.d.dir, `.${key}-${n}.tmp`);
      try {
        await createImage(tmp, bytes, { durable: false });
        await this.d.fs.make(tmp, fsType);
        await syncImage(tmp);
        if (this.closed) throw new Error('driver closing');
        const done = join(this.d.dir, `${key}-${n}.img`);
        await rename(tmp, done);
        this.list(key).push(done);
      } catch (e) {
        await rm(tmp, { force: true }).catch(() => {});
        throw e;
      }
    }
  }

  /** Bytes the spares hold on disk (capacity.ts). */
  async heldBytes(): Promise<number> {
    let n = 0;
    for (const f of [...this.ready.values()].flat()) n += await allocatedBytes(f);
    return n;
  }

  private list(key: string): string[] {
    let l = this.ready.get(key);
    if (!l) {
      l = [];
      this.ready.set(key, l);
    }
    return l;
  }
  private countOf(key: string): number {
    return this.ready.get(key)?.length ?? 0;
  }
  private total(): number {
    let n = 0;
    for (const l of this.ready.values()) n += l.length;
    return n;
  }
  private touch(key: string): void {
    const i = this.wanted.indexOf(key);
    if (i >= 0) this.wanted.splice(i, 1);
    this.wanted.push(key);
    // Remember a few kinds only.
    if (this.wanted.length > 8) this.wanted.shift();
  }
}
