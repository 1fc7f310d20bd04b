// The device list of one resource as kubelet sees it. A device once seen and
// then gone stays listed as Unhealthy (kubelet keeps pods that hold it
// accounted for) and turns Healthy again when it comes back.
import type { DiscoveredDevice } from './discovery/device.ts';

export type Health = 'Healthy' | 'Unhealthy';

export interface KubeletDevice {
  ID: string;
  health: Health;
  topology: { nodes: Array<{ ID: number }> } | null;
}

interface Tracked {
  dev: DiscoveredDevice;
  healthy: boolean;
}

export const REPLICA_SEP = '::';

export class DeviceState {
  private readonly known = new Map<string, Tracked>();
  private replicas: number;

  constructor(replicas: number) {
    this.replicas = replicas;
  }

  setReplicas(n: number): void {
    this.replicas = n;
  }

  /** Apply a fresh scan; true when anything kubelet can see changed. */
  apply(scan: DiscoveredDevice[]): boolean {
    let changed = false;
    const present = new Set<string>();
    for (const dev of scan) {
      present.add(dev.id);
      const old = this.known.get(dev.id);
      if (!old || old.healthy !== dev.usable || old.dev.numa !== dev.numa || old.dev.nodes.join() !== dev.nodes.join()) changed = true;
      this.known.set(dev.id, { dev, healthy: dev.usable });
    }
    for (const [id, t] of this.known) {
      if (!present.has(id) && t.healthy) {
        t.healthy = false;
        changed = true;
      }
    }
    return changed;
  }

  /** After a config change the old devices mean nothing: start from this scan. */
  reset(scan: DiscoveredDevice[]): void {
    this.known.clear();
    this.apply(scan);
  }

  /** The ListAndWatch payload: each physical device repeated `replicas` times. */
  list(): KubeletDevice[] {
    const out: KubeletDevice[] = [];
    for (const { dev, healthy } of this.known.values()) {
      const topology = dev.numa === undefined ? null : { nodes: [{ ID: dev.numa }] };
      const health: Health = healthy ? 'Healthy' : 'Unhealthy';
      if (this.replicas === 1) out.push({ ID: dev.id, health, topology });
      else for (let n = 0; n < this.replicas; n++) out.push({ ID: `${dev.id}${REPLICA_SEP}${n}`, health, topology });
    }
    return out;
  }

  /** Resolve a kubelet id (with or without replica suffix) to its physical device. */
  lookup(id: string): { dev: DiscoveredDevice; healthy: boolean } | undefined {
    let base = id;
    if (this.replicas > 1) {
      const i = id.lastIndexOf(REPLICA_SEP);
      if (i < 0) return undefined;
      const n = Number(id.slice(i + REPLICA_SEP.length));
      if (!Number.isInteger(n) || n < 0 || n >= this.replicas || id.slice(i + REPLICA_SEP.length) !== String(n)) return undefined;
      base = id.slice(0, i);
    }
    const t = this.known.get(base);
    return t ? { dev: t.dev, healthy: t.healthy } : undefined;
  }

  numaOf(id: string): number | undefined {
    return this.lookup(id)?.dev.numa;
  }

  all(): DiscoveredDevice[] {
    return [...this.known.values()].map((t) => t.dev);
  }
}
