// One CDI spec file per resource in /var/run/cdi (the dynamic spec dir), so
// a CDI-enabled runtime (containerd 2.x) can inject the devices kubelet names
// in ContainerAllocateResponse.cdi_devices. Written atomically (the runtime
// may read it at any moment) and only when its content changes; removed when
// the resource goes away or has no devices left.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../lib/atomic-file.ts';
import type { ResourceConfig } from './config.ts';
import type { DiscoveredDevice } from './discovery/device.ts';
import { resourceFileStem } from './resource-file.ts';

export const CDI_VERSION = '0.6.0';

export function cdiSpecPath(cdiDir: string, resource: string): string {
  return join(cdiDir, `${resourceFileStem(resource)}.json`);
}

export function buildCdiSpec(res: ResourceConfig, devices: readonly DiscoveredDevice[]): object {
  return {
    cdiVersion: CDI_VERSION,
    kind: res.name,
    devices: devices.map((d) => ({
      name: d.id,
      containerEdits: { deviceNodes: d.nodes.map((n) => ({ path: n, permissions: res.permissions })) },
    })),
    containerEdits: {
      ...(Object.keys(res.env).length > 0 ? { env: Object.entries(res.env).map(([k, v]) => `${k}=${v}`) } : {}),
      ...(res.deviceNodes.length > 0
        ? { deviceNodes: res.deviceNodes.map((n) => ({ path: n.containerPath, hostPath: n.path, permissions: n.permissions })) }
        : {}),
      ...(res.mounts.length > 0
        ? { mounts: res.mounts.map((m) => ({ hostPath: m.hostPath, containerPath: m.containerPath, options: m.readOnly ? ['bind', 'ro'] : ['bind'] })) }
        : {}),
    },
  };
}

export class CdiWriter {
  private last = new Map<string, string>();
  private readonly dir: string;
  constructor(dir: string) {
    this.dir = dir;
  }

  async write(res: ResourceConfig, devices: readonly DiscoveredDevice[]): Promise<void> {
    const path = cdiSpecPath(this.dir, res.name);
    if (!res.cdi || devices.length === 0) return this.remove(res.name);
    const text = `${JSON.stringify(buildCdiSpec(res, devices), null, 2)}\n`;
    if (this.last.get(path) === text) return;
    await writeFileAtomic(path, text, 0o644);
    this.last.set(path, text);
  }

  async remove(resource: string): Promise<void> {
    const path = cdiSpecPath(this.dir, resource);
    this.last.delete(path);
    await rm(path, { force: true });
  }
}
