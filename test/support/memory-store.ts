// Test double for the CSI StateStore seam (csi/state/store.ts): records in memory only.
import type { StateStore } from '../../csi/state/store.ts';
import type { SnapshotRecord, VolumeRecord } from '../../csi/state/records.ts';

const clone = <T>(v: T): T => structuredClone(v);

export class MemoryStore implements StateStore {
  private readonly vols = new Map<string, VolumeRecord>();
  private readonly snaps = new Map<string, SnapshotRecord>();
  volumes() {
    return [...this.vols.values()].map(clone);
  }
  volume(id: string) {
    const v = this.vols.get(id);
    return v && clone(v);
  }
  countVolumes(status: VolumeRecord['status']) {
    return [...this.vols.values()].filter((v) => v.status === status).length;
  }
  async putVolume(v: VolumeRecord) {
    this.vols.set(v.id, clone(v));
  }
  async removeVolume(id: string) {
    this.vols.delete(id);
  }
  snapshots() {
    return [...this.snaps.values()].map(clone);
  }
  snapshot(id: string) {
    const s = this.snaps.get(id);
    return s && clone(s);
  }
  async putSnapshot(s: SnapshotRecord) {
    this.snaps.set(s.id, clone(s));
  }
  async removeSnapshot(id: string) {
    this.snaps.delete(id);
  }
}
