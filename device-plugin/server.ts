// The DevicePlugin gRPC service of one resource, on its own socket in the
// kubelet device-plugins dir. kubelet holds one ListAndWatch stream open per
// registration; every device-list change is pushed to all open streams.
import type * as grpc from '@grpc/grpc-js';
import { loadProto, lookup } from '../lib/grpc/proto.ts';
import { wrapUnary, wrapServerStream, type CallObserver } from '../lib/grpc/handler.ts';
import { serveUnix, type UnixServer } from '../lib/grpc/unix-server.ts';
import { invalidArgument } from '../lib/grpc/status-error.ts';
import type { Logger } from '../lib/logging.ts';
import type { ResourceConfig } from './config.ts';
import type { DeviceState, KubeletDevice } from './health.ts';
import { allocateContainer } from './allocate.ts';
import { preferredAllocation } from './preferred.ts';

export const PLUGIN_OPTIONS = { pre_start_required: false, get_preferred_allocation_available: true };

export function devicePluginService(): grpc.ServiceDefinition {
  return lookup<grpc.ServiceClientConstructor>(loadProto('deviceplugin/v1beta1/api.proto'), 'v1beta1.DevicePlugin').service;
}

interface IdsReq {
  devices_ids?: string[];
}
interface AllocateReq {
  container_requests?: IdsReq[];
}
interface PrefReq {
  container_requests?: Array<{ available_deviceIDs?: string[]; must_include_deviceIDs?: string[]; allocation_size?: number }>;
}

export interface ServerDeps {
  resource: () => ResourceConfig;
  state: DeviceState;
  log: Logger;
  observe?: CallObserver;
}

export class DevicePluginServer {
  private unix: UnixServer | undefined;
  private readonly streams = new Set<grpc.ServerWritableStream<unknown, { devices: KubeletDevice[] }>>();
  private readonly enders = new Set<() => void>();
  private drained = false;
  private readonly deps: ServerDeps;

  constructor(deps: ServerDeps) {
    this.deps = deps;
  }

  get socketPath(): string | undefined {
    return this.unix?.path;
  }

  private payload(): { devices: KubeletDevice[] } {
    return { devices: this.drained ? [] : this.deps.state.list() };
  }

  async start(socketPath: string): Promise<void> {
    const { log, observe } = this.deps;
    const wrap = { log: log.child({ resource: this.deps.resource().name }), ...(observe ? { observe } : {}) };
    this.unix = await serveUnix(socketPath, (server) => {
      server.addService(devicePluginService(), {
        GetDevicePluginOptions: wrapUnary('/v1beta1.DevicePlugin/GetDevicePluginOptions', () => PLUGIN_OPTIONS, wrap),
        ListAndWatch: wrapServerStream('/v1beta1.DevicePlugin/ListAndWatch', (_req, call) => this.listAndWatch(call), wrap),
        GetPreferredAllocation: wrapUnary('/v1beta1.DevicePlugin/GetPreferredAllocation', (req: PrefReq) => this.preferred(req), wrap),
        Allocate: wrapUnary('/v1beta1.DevicePlugin/Allocate', (req: AllocateReq) => this.allocate(req), wrap),
        // Not requested (pre_start_required is false); answer anyway, kubelet may still call it.
        PreStartContainer: wrapUnary('/v1beta1.DevicePlugin/PreStartContainer', () => ({}), wrap),
      });
    });
  }

  private listAndWatch(call: grpc.ServerWritableStream<unknown, { devices: KubeletDevice[] }>): Promise<void> {
    return new Promise<void>((resolve) => {
      const end = () => {
        if (!this.streams.delete(call)) return;
        this.enders.delete(end);
        resolve();
      };
      this.streams.add(call);
      this.enders.add(end);
      call.on('cancelled', end);
      call.on('close', end);
      call.on('error', end);
      call.write(this.payload());
    });
  }

  private allocate(req: AllocateReq): { container_responses: unknown[] } {
    const reqs = req.container_requests ?? [];
    if (reqs.length === 0) throw invalidArgument('AllocateRequest has no container_requests');
    return { container_responses: reqs.map((r) => allocateContainer(this.deps.resource(), this.deps.state, r.devices_ids ?? [])) };
  }

  private preferred(req: PrefReq): { container_responses: Array<{ deviceIDs: string[] }> } {
    const reqs = req.container_requests ?? [];
    return {
      container_responses: reqs.map((r, i) => {
        const size = r.allocation_size ?? 0;
        if (size < 0) throw invalidArgument(`container_requests[${i}].allocation_size: must be ≥ 0`);
        const available = r.available_deviceIDs ?? [];
        const must = r.must_include_deviceIDs ?? [];
        const unknown = [...available, ...must].find((id) => !this.deps.state.lookup(id));
        if (unknown !== undefined) throw invalidArgument(`${this.deps.resource().name}: unknown device id "${unknown}"`);
        return { deviceIDs: preferredAllocation(available, must, size, (id) => this.deps.state.numaOf(id)) };
      }),
    };
  }

  /** Push the current list to every open ListAndWatch stream. */
  broadcast(): void {
    const p = this.payload();
    for (const s of this.streams) {
      try {
        s.write(p);
      } catch {
        /* stream torn down under us; its end handler cleans up */
      }
    }
  }

  /** Report no devices (before shutdown, so kubelet stops admitting pods for them). */
  drain(): void {
    this.drained = true;
    this.broadcast();
  }

  async stop(): Promise<void> {
    for (const s of this.streams) {
      try {
        s.end();
      } catch {
        /* already gone */
      }
    }
    for (const e of [...this.enders]) e();
    const u = this.unix;
    this.unix = undefined;
    await u?.close(200);
  }
}
