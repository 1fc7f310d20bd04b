// The disk policy. Images are sparse, so a volume's capacity is a promise, not
// a reservation: were promises allowed past the disk, a pod writing into its
// own half-empty volume would meet EIO from the loop device (the image cannot
// grow) and ext4 would go read-only under it. So CreateVolume, ControllerExpand
// and CreateSnapshot count what is promised but not yet written, keep a reserve
// for the host and our own state records, and refuse what does not fit.
// GetCapacity reports the same number, so the scheduler's CSIStorageCapacity
// never advertises space that CreateVolume would then refuse.
//
//   pool      = free space of the data dir's filesystem + bytes our volume images already hold − reserve
//               (spare pre-formatted images, spares.ts, are used space: outside free, never in the pool)
//   promised  = Σ over volumes of max(capacity, allocated)  (+ what snapshots being copied will still take)
//   available = ratio × pool − promised                     (ratio = overprovision ratio, 1 = no overcommit)
//
// Snapshot copies are immutable: they count through the free space they
// already took. The checks and the record writes that make a promise happen
// under one lock, so two concurrent Creates cannot both take the last bytes.
import { statfsSync } from 'node:fs';
import type { CsiContext } from '../context.ts';
import { imagePath, snapshotPath } from '../context.ts';
import { allocatedBytes } from './image.ts';
import { GrpcError, resourceExhausted } from '../../lib/grpc/status-error.ts';
import { ExecError } from '../../lib/exec.ts';
import { errnoCode } from '../../lib/errors.ts';

export interface CapacityPolicy {
  /** Bytes of the data dir's filesystem never promised to volumes (default: 5% of it, at most 1 GiB). */
  reserveBytes?: number;
  /** Promises allowed per byte of pool (default 1: every promised byte can be written). */
  overprovisionRatio?: number;
}

export const DEFAULT_OVERPROVISION_RATIO = 1;
const DEFAULT_RESERVE_FRACTION = 0.05;
const DEFAULT_RESERVE_CAP = 1024 ** 3;
// Never a volume or snapshot id (those start with a letter or digit).
const CAPACITY_LOCK = ':capacity';

export interface CapacityView {
  fsBytes: number;
  freeBytes: number;
  reserveBytes: number;
  /** Bytes our volume images hold on disk now. */
  allocatedBytes: number;
  /** Σ max(capacity, allocated) of the volumes, plus pending snapshot copies. */
  promisedBytes: number;
  /** What spare images (spares.ts) hold: used space (outside `free`), never promised. */
  spareBytes: number;
  ratio: number;
  /** What one more promise may take; never negative. */
  availableBytes: number;
}

export function defaultReserve(fsBytes: number): number {
  return Math.min(DEFAULT_RESERVE_CAP, Math.floor(fsBytes * DEFAULT_RESERVE_FRACTION));
}

// Promises granted but not yet in a record (the record write is under way):
// they count as soon as they are granted, so the lock is held only for the
// check, not for the fsync of the record.
const grants = new WeakMap<CsiContext, Map<string, number>>();
const grantsOf = (ctx: CsiContext) => {
  let g = grants.get(ctx);
  if (!g) {
    g = new Map();
    grants.set(ctx, g);
  }
  return g;
};

export async function capacityView(ctx: CsiContext): Promise<CapacityView> {
  const vols = ctx.store.volumes();
  const snaps = ctx.store.snapshots().filter((s) => s.status === 'creating');
  // One stat per image, all in flight at once: run one after another they
  // made a burst of concurrent Creates queue behind the capacity lock.
  const [st, volBytes, snapBytes, spareBytes] = await Promise.all([
    // statfs reads the superblock's counters: in place, no thread-pool round trip.
    statfsSync(ctx.dataDir),
    Promise.all(vols.map((v) => allocatedBytes(imagePath(ctx, v.id)))),
    Promise.all(snaps.map(async (s) => (await allocatedBytes(imagePath(ctx, s.sourceVolumeId))) - (await allocatedBytes(snapshotPath(ctx, s.id))))),
    ctx.spares?.heldBytes() ?? 0,
  ]);
  const fsBytes = st.blocks * st.bsize;
  const freeBytes = st.bavail * st.bsize;
  const reserveBytes = ctx.capacity?.reserveBytes ?? defaultReserve(fsBytes);
  const ratio = ctx.capacity?.overprovisionRatio ?? DEFAULT_OVERPROVISION_RATIO;
  const granted = new Map(grantsOf(ctx));
  let allocated = 0;
  let promised = 0;
  vols.forEach((v, i) => {
    const a = volBytes[i]!;
    allocated += a;
    // A volume being deleted gives its space back: only what it holds counts.
    promised += v.status === 'deleting' ? a : Math.max(v.capacityBytes, a, granted.get(v.id) ?? 0);
    granted.delete(v.id);
  });
  for (const s of ctx.store.snapshots()) granted.delete(s.id);
  // A copy under way will take about what its source holds; part of it may be on disk already.
  for (const pending of snapBytes) promised += Math.max(0, pending);
  for (const g of granted.values()) promised += g;
  const pool = freeBytes + allocated - reserveBytes;
  const availableBytes = Math.max(0, Math.floor(ratio * pool) - promised);
  return { fsBytes, freeBytes, reserveBytes, allocatedBytes: allocated, promisedBytes: promised, spareBytes, ratio, availableBytes };
}

export interface PromiseOf {
  /** The volume or snapshot id the promise is for. */
  id: string;
  /** How many bytes more than is counted for `id` now. */
  more: number;
  /** What `id` will be counted for once its record is written (volume: its new capacity; snapshot: the copy). */
  total: number;
}

interface Waiter {
  p: PromiseOf;
  refuse: (msg: string) => Error;
  resolve(): void;
  reject(e: unknown): void;
}
const waiting = new WeakMap<CsiContext, Waiter[]>();

/**
 * Grant `p` or reject with `refuse`. Requests that arrive while a check is
 * running are checked together in the next one, against one view of the disk
 * (granted in arrival order, each taking its bytes from what is left), so a
 * burst of concurrent Creates costs one statfs and one stat per image, not
 * one per request.
 */
function grant(ctx: CsiContext, p: PromiseOf, refuse: (msg: string) => Error): Promise<void> {
  let q = waiting.get(ctx);
  if (!q) {
    q = [];
    waiting.set(ctx, q);
  }
  const queue = q;
  return new Promise<void>((resolve, reject) => {
    queue.push({ p, refuse, resolve, reject });
    if (queue.length > 1) return; // a check is already due and takes this one too
    void ctx.lock.run(CAPACITY_LOCK, async () => {
      const batch = queue.splice(0);
      const g = grantsOf(ctx);
      try {
        const c = batch.some((w) => w.p.more > 0) ? await capacityView(ctx) : undefined;
        for (const w of batch) {
          if (c && w.p.more > 0) {
            if (w.p.more > c.availableBytes) {
              w.reject(
                w.refuse(
                  `${w.p.more} more bytes do not fit on node ${ctx.nodeId}: ${c.availableBytes} available ` +
                    `(free ${c.freeBytes} + held by volumes ${c.allocatedBytes} − reserve ${c.reserveBytes}, ×${c.ratio}, − promised ${c.promisedBytes})`,
                ),
              );
              continue;
            }
            c.availableBytes -= w.p.more;
            c.promisedBytes += w.p.more;
          }
          g.set(w.p.id, w.p.total);
          w.resolve();
        }
      } catch (e) {
        for (const w of batch) w.reject(e);
      }
    });
  });
}

/**
 * Run `fn` (which writes the record that makes the promise) only if `p.more`
 * bytes fit; `refuse` builds the error otherwise. The check and the grant are
 * one step under the lock; the grant lasts until `fn` settles, by when the
 * record (or its absence, on failure) speaks for itself.
 */
export async function withRoomFor<T>(ctx: CsiContext, p: PromiseOf, refuse: (msg: string) => Error, fn: () => Promise<T>): Promise<T> {
  await grant(ctx, p, refuse);
  try {
    return await fn();
  } finally {
    grantsOf(ctx).delete(p.id);
  }
}

// A spare image (spares.ts) is made only while a volume of its size would
// still fit beside it: spares never take the room CreateVolume promises.
// What they hold counts as used space (it is not in `free`), never as promised.
const SPARE_FOOTPRINT = 64 * 1024 ** 2; // xfs's log; an ext4 spare holds ~0.7 MiB

export async function roomForSpare(ctx: CsiContext, bytes: number): Promise<boolean> {
  return (await capacityView(ctx)).availableBytes >= bytes + SPARE_FOOTPRINT;
}

/** ENOSPC / EDQUOT from a syscall or a host tool (cp): the data dir's disk is full. */
export function isDiskFull(e: unknown): boolean {
  const code = errnoCode(e);
  if (code === 'ENOSPC' || code === 'EDQUOT') return true;
  return e instanceof ExecError && /No space left on device|Disk quota exceeded/i.test(e.stderr);
}

/** A disk-full failure becomes RESOURCE_EXHAUSTED naming it; anything else passes through. */
export function diskFullAsStatus(e: unknown, what: string): unknown {
  if (e instanceof GrpcError || !isDiskFull(e)) return e;
  return resourceExhausted(`${what}: the data dir's filesystem is full (${errnoCode(e) ?? 'No space left on device'})`);
}
