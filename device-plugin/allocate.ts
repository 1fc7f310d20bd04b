// Allocate for one container request: what kubelet should hand the runtime
// for these device ids. Pure apart from reading the current device state;
// every refusal is a GrpcError naming the id.
import type { ResourceConfig } from './config.ts';
import type { DeviceState } from './health.ts';
import { invalidArgument, failedPrecondition } from '../lib/grpc/status-error.ts';

export interface DeviceSpecMsg {
  container_path: string;
  host_path: string;
  permissions: string;
}
export interface MountMsg {
  container_path: string;
  host_path: string;
  read_only: boolean;
}
export interface ContainerAllocateResponse {
  envs: Record<string, string>;
  mounts: MountMsg[];
  devices: DeviceSpecMsg[];
  annotations: Record<string, string>;
  cdi_devices: Array<{ name: string }>;
}

export function cdiName(resource: string, deviceId: string): string {
  return `${resource}=${deviceId}`;
}

export function allocateContainer(res: ResourceConfig, state: DeviceState, ids: readonly string[]): ContainerAllocateResponse {
  if (ids.length === 0) throw invalidArgument(`${res.name}: container request lists no device ids`);
  const devices: DeviceSpecMsg[] = [];
  const seenNodes = new Set<string>();
  const cdi: Array<{ name: string }> = [];
  const seenDevs = new Set<string>();
  for (const id of ids) {
    const hit = state.lookup(id);
    if (!hit) throw invalidArgument(`${res.name}: unknown device id "${id}"`);
    if (!hit.healthy) throw failedPrecondition(`${res.name}: device "${id}" is unhealthy`);
    // Replicas of one shared device map to the same nodes: hand each node out once.
    if (seenDevs.has(hit.dev.id)) continue;
    seenDevs.add(hit.dev.id);
    if (res.cdi) cdi.push({ name: cdiName(res.name, hit.dev.id) });
    for (const n of hit.dev.nodes) {
      if (seenNodes.has(n)) continue;
      seenNodes.add(n);
      devices.push({ container_path: n, host_path: n, permissions: res.permissions });
    }
  }
  for (const n of res.deviceNodes) {
    if (seenNodes.has(n.path)) continue;
    seenNodes.add(n.path);
    devices.push({ container_path: n.containerPath, host_path: n.path, permissions: n.permissions });
  }
  return {
    envs: { ...res.env, [res.idsEnv]: ids.join(',') },
    mounts: res.mounts.map((m) => ({ container_path: m.containerPath, host_path: m.hostPath, read_only: m.readOnly })),
    devices,
    annotations: { ...res.annotations },
    cdi_devices: cdi,
  };
}
