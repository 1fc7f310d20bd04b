// Durable metadata: one JSON file per volume and per snapshot under
// <data-dir>/state, each replaced atomically (lib/atomic-file.ts), with an
// in-memory index loaded at start-up. One file per record means a write never
// rewrites (or risks) any other volume's state.
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AtomicDir } from '../../lib/atomic-file.ts';
import { errnoCode, isNotFound } from '../../lib/errors.ts';
import { GrpcError, status } from '../../lib/grpc/status-error.ts';
import type { Logger } from '../../lib/logging.ts';
import type { SnapshotRecord, VolumeRecord } from './records.ts';

export interface StateStore {
  volumes(): VolumeRecord[];
  volume(id: string): VolumeRecord | undefined;
  /** How many volumes have `status` (no copies made: CreateVolume asks on every call). */
  countVolumes(status: VolumeRecord['status']): number;
  putVolume(v: VolumeRecord): Promise<void>;
  removeVolume(id: string): Promise<void>;
  snapshots(): SnapshotRecord[];
  snapshot(id: string): SnapshotRecord | undefined;
  putSnapshot(s: SnapshotRecord): Promise<void>;
  removeSnapshot(id: string): Promise<void>;
}

const clone = <T>(v: T): T => structuredClone(v);

/** The driver's store: the records on disk, indexed in memory. A write is on disk before it is in the index. */
export class FileStore implements StateStore {
  private readonly vols = new Map<string, VolumeRecord>();
  private readonly snaps = new Map<string, SnapshotRecord>();
  private readonly volDir: AtomicDir;
  private readonly snapDir: AtomicDir;

  private constructor(stateDir: string) {
    this.volDir = new AtomicDir(join(stateDir, 'volumes'));
    this.snapDir = new AtomicDir(join(stateDir, 'snapshots'));
  }

  /** Load every record; an unreadable file is logged and left for a human, never guessed at. */
  static async open(stateDir: string, log: Logger): Promise<FileStore> {
    const s = new FileStore(stateDir);
    for (const d of [s.volDir.dir, s.snapDir.dir]) await mkdir(d, { recursive: true, mode: 0o700 });
    for (const r of await readRecords<VolumeRecord>(s.volDir.dir, log)) s.vols.set(r.id, r);
    for (const r of await readRecords<SnapshotRecord>(s.snapDir.dir, log)) s.snaps.set(r.id, r);
    return s;
  }

  volumes() {
    return [...this.vols.values()].map(clone);
  }
  volume(id: string) {
    const v = this.vols.get(id);
    return v && clone(v);
  }
  countVolumes(status: VolumeRecord['status']) {
    let n = 0;
    for (const v of this.vols.values()) if (v.status === status) n++;
    return n;
  }
  snapshots() {
    return [...this.snaps.values()].map(clone);
  }
  snapshot(id: string) {
    const s = this.snaps.get(id);
    return s && clone(s);
  }

  async putVolume(v: VolumeRecord) {
    await writeRecord(this.volDir, `${v.id}.json`, v);
    this.vols.set(v.id, clone(v));
  }
  async removeVolume(id: string) {
    await this.volDir.remove(`${id}.json`);
    this.vols.delete(id);
  }
  async putSnapshot(s: SnapshotRecord) {
    await writeRecord(this.snapDir, `${s.id}.json`, s);
    this.snaps.set(s.id, clone(s));
  }
  async removeSnapshot(id: string) {
    await this.snapDir.remove(`${id}.json`);
    this.snaps.delete(id);
  }
}

/**
 * A record write that the disk refused (full, or over quota). AtomicDir.write
 * has already removed its temp file and the old record is untouched; the
 * in-memory copy is only updated after a successful write, so memory and disk
 * still agree. RESOURCE_EXHAUSTED tells the CO to retry later.
 */
export class StateDiskFullError extends GrpcError {
  constructor(file: string, code: string) {
    super(status.RESOURCE_EXHAUSTED, `cannot write state record ${file}: the data dir's filesystem is full (${code}); nothing was changed`);
    this.name = 'StateDiskFullError';
  }
}

async function writeRecord(dir: AtomicDir, name: string, record: object): Promise<void> {
  const file = join(dir.dir, name);
  try {
    await dir.write(name, JSON.stringify(record, null, 1), 0o600);
  } catch (e) {
    const code = errnoCode(e);
    if (code === 'ENOSPC' || code === 'EDQUOT') throw new StateDiskFullError(file, code);
    throw e;
  }
}

async function readRecords<T extends { id: string }>(dir: string, log: Logger): Promise<T[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if (isNotFound(e)) return [];
    throw e;
  }
  const out: T[] = [];
  for (const n of names) {
    if (!n.endsWith('.json') || n.startsWith('.')) continue;
    try {
      const r = JSON.parse(await readFile(join(dir, n), 'utf8')) as T;
      if (typeof r.id === 'string' && `${r.id}.json` === n) out.push(r);
      else log.error({ file: join(dir, n) }, 'state record does not match its file name; ignored');
    } catch (e) {
      log.error({ file: join(dir, n), err: String(e) }, 'unreadable state record; ignored');
    }
  }
  return out;
}
