// The agent's Prometheus metrics, on a registry of its own (not prom-client's
// global one) so tests can build several agents in one process. Volume and
// device gauges are filled at scrape time from the components' own state:
// a scrape always sees the truth, and nothing has to remember to update them.
import { Registry, Counter, Gauge, Histogram, collectDefaultMetrics } from 'prom-client';
import type { CallObserver } from '../lib/grpc/handler.ts';

export interface DeviceView {
  resource: string;
  id: string;
  health: 'Healthy' | 'Unhealthy';
}
export interface VolumeStats {
  volumes: number;
  bytes: number;
}

export interface CniUsage {
  pools: { network: string; range: string; used: number; size: number }[];
  attachments: { network: string; attachments: number; releasing: number }[];
}

export interface MetricSources {
  devices?: () => DeviceView[];
  volumes?: () => Promise<VolumeStats>;
  /** Each checked component and whether its last liveness check passed. */
  health?: () => Array<{ component: string; healthy: boolean }>;
  cni?: () => CniUsage;
}

export class AgentMetrics {
  readonly registry = new Registry();
  readonly grpcDuration: Histogram<'component' | 'method' | 'code'>;
  readonly cniInstalls: Counter<'kind'>;
  readonly cniRequests: Counter<'command' | 'result'>;
  readonly cniDuration: Histogram<'command'>;
  readonly cniTeardowns: Counter<'result'>;
  private sources: MetricSources = {};

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'hostplane_agent_' });
    this.grpcDuration = new Histogram({
      name: 'hostplane_grpc_call_duration_seconds',
      help: 'gRPC calls served, by component, method and status code, with their durations',
      labelNames: ['component', 'method', 'code'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
      registers: [this.registry],
    });
    this.cniInstalls = new Counter({
      name: 'hostplane_cni_installs_total',
      help: 'CNI files (re)written on the host: binary, plugin (extra plugins), conflist',
      labelNames: ['kind'],
      registers: [this.registry],
    });
    this.cniRequests = new Counter({
      name: 'hostplane_cni_requests_total',
      help: 'CNI requests the agent answered, by command and result (ok, error_<CNI code>, declined: left to the executable)',
      labelNames: ['command', 'result'],
      registers: [this.registry],
    });
    this.cniDuration = new Histogram({
      name: 'hostplane_cni_request_duration_seconds',
      help: 'Time the agent took to answer a CNI request, by command (DEL: until the teardown is scheduled)',
      labelNames: ['command'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
      registers: [this.registry],
    });
    this.cniTeardowns = new Counter({
      name: 'hostplane_cni_teardowns_total',
      help: 'Background DEL teardowns (veth deletion, then lease release), by result',
      labelNames: ['result'],
      registers: [this.registry],
    });
    const self = this;
    new Gauge({
      name: 'hostplane_cni_attachments',
      help: 'Pod attachments holding addresses, by network and state (live, or releasing: DEL answered, teardown pending)',
      labelNames: ['network', 'state'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const a of self.sources.cni?.().attachments ?? []) {
          this.set({ network: a.network, state: 'live' }, a.attachments);
          this.set({ network: a.network, state: 'releasing' }, a.releasing);
        }
      },
    });
    new Gauge({
      name: 'hostplane_cni_ipam_addresses',
      help: 'IPAM pool per network and range set: addresses leased (used) and in the pool (size)',
      labelNames: ['network', 'range', 'kind'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const p of self.sources.cni?.().pools ?? []) {
          this.set({ network: p.network, range: p.range, kind: 'used' }, p.used);
          this.set({ network: p.network, range: p.range, kind: 'size' }, p.size);
        }
      },
    });
    new Gauge({
      name: 'hostplane_devices',
      help: 'Devices advertised to kubelet, by resource and health',
      labelNames: ['resource', 'health'],
      registers: [this.registry],
      collect() {
        this.reset();
        const counts = new Map<string, number>();
        for (const d of self.sources.devices?.() ?? []) {
          const k = `${d.resource}\u0000${d.health}`;
          counts.set(k, (counts.get(k) ?? 0) + 1);
        }
        for (const [k, n] of counts) {
          const [resource, health] = k.split('\u0000') as [string, string];
          this.set({ resource, health }, n);
        }
      },
    });
    new Gauge({
      name: 'hostplane_component_healthy',
      help: 'Whether the component passed its last liveness check (1) or not (0); see /healthz',
      labelNames: ['component'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const h of self.sources.health?.() ?? []) this.set({ component: h.component }, h.healthy ? 1 : 0);
      },
    });
    new Gauge({
      name: 'hostplane_csi_volumes',
      help: 'CSI volumes on this node',
      registers: [this.registry],
      async collect() {
        const s = await self.volumeStats();
        if (s) this.set(s.volumes);
      },
    });
    new Gauge({
      name: 'hostplane_csi_volume_bytes',
      help: 'Total provisioned capacity of the CSI volumes on this node, in bytes',
      registers: [this.registry],
      async collect() {
        const s = await self.volumeStats();
        if (s) this.set(s.bytes);
      },
    });
  }

  // Both volume gauges come from one stats() call per scrape (they are
  // collected within the same tick; a second scrape a second later asks again).
  private statsCache: { at: number; value: Promise<VolumeStats | undefined> } | undefined;
  private volumeStats(): Promise<VolumeStats | undefined> {
    const now = Date.now();
    if (!this.statsCache || now - this.statsCache.at > 1000) {
      this.statsCache = { at: now, value: this.sources.volumes ? this.sources.volumes().catch(() => undefined) : Promise.resolve(undefined) };
    }
    return this.statsCache.value;
  }

  /** Where the scrape-time gauges read from, once the components are up. */
  setSources(sources: MetricSources): void {
    this.sources = sources;
    this.statsCache = undefined;
  }

  /** A CallObserver for one component's gRPC wrapper. */
  observer(component: string): CallObserver {
    return (method, code, seconds) => this.grpcDuration.observe({ component, method, code }, seconds);
  }
}
