// The per-node agent: one process that installs the CNI plugin and serves
// the CSI driver, the device plugins and the health/metrics endpoint.
// Start order: metrics/health first (so a crash-looping start is visible),
// then CNI (pods need it before anything else), then CSI and devices.
// Stop order (SIGTERM): drain the device plugins so kubelet sees an empty
// list rather than a vanished stream, then stop serving gRPC. Nothing on the
// host is removed: volumes stay mounted, the CNI plugin and conflist stay in
// place, because running pods depend on all of them.
import type { Logger } from '../lib/logging.ts';
import { errorMessage } from '../lib/errors.ts';
import type { AgentConfig } from './config.ts';
import type { ComponentFactories, CsiDriverHandle, DevicePluginsHandle } from './components.ts';
import { CniController } from './cni/controller.ts';
import type { NodeSource } from './kube/node-source.ts';
import { AgentMetrics } from './metrics.ts';
import { startHealthServer, type HealthServer } from './http-server.ts';
import { RoutingReconciler } from './routing/reconciler.ts';
import { RealDataplane, type Dataplane } from './routing/dataplane.ts';
import { RoutingMetrics } from './routing/metrics.ts';
import { RealExec } from '../lib/exec.ts';

export interface AgentDeps {
  log: Logger;
  components: ComponentFactories;
  /** The Node watch (default: an informer on cfg.kubernetes, when something needs Nodes). */
  nodes?: NodeSource;
  /** Where routing applies its changes (default: this process's network namespace). */
  dataplane?: Dataplane;
  metrics?: AgentMetrics;
}

export interface RunningAgent {
  /** The port /healthz and /metrics answer on (useful when configured as 0). */
  port: number;
  metrics: AgentMetrics;
  cni: CniController | undefined;
  routing: RoutingReconciler | undefined;
  stop(): Promise<void>;
}

export async function startAgent(cfg: AgentConfig, deps: AgentDeps): Promise<RunningAgent> {
  const { log } = deps;
  const metrics = deps.metrics ?? new AgentMetrics();
  let csi: CsiDriverHandle | undefined;
  let devices: DevicePluginsHandle | undefined;
  let cni: CniController | undefined;
  let http: HealthServer | undefined;
  let nodes: NodeSource | undefined;
  let routing: RoutingReconciler | undefined;

  const notReady = (): string[] => {
    const out: string[] = [];
    if (cfg.cni.enabled && !cni?.isReady()) out.push('cni');
    if (cfg.csi.enabled && !csi) out.push('csi');
    if (cfg.devicePlugin.enabled && !devices) out.push('device-plugin');
    return out;
  };

  const stop = async (): Promise<void> => {
    cni?.stop();
    // Routes, VXLAN devices and the masquerade table stay: running pods use them.
    routing?.stop();
    await nodes?.stop().catch(() => {});
    if (devices) {
      await devices.drain().catch((e: unknown) => log.error({ err: errorMessage(e) }, 'device plugin drain failed'));
      await devices.close().catch((e: unknown) => log.error({ err: errorMessage(e) }, 'device plugin close failed'));
    }
    await csi?.close().catch((e: unknown) => log.error({ err: errorMessage(e) }, 'csi driver close failed'));
    await http?.close();
    log.info('agent stopped; volumes, mounts and the CNI installation left in place');
  };

  try {
    http = await startHealthServer({
      address: cfg.http.address, port: cfg.http.port, registry: metrics.registry, notReady, log,
      debug: { '/debug/peers': () => routing?.peerTable() ?? { mode: 'off' } },
    });
    const routingOn = cfg.routing.mode !== 'off';
    if ((cfg.cni.enabled && cfg.cni.podCIDRs.length === 0) || routingOn) {
      // Loaded only when needed: @kubernetes/client-node is most of the bundle's start-up cost.
      const { NodeInformer } = await import('./kube/node-informer.ts');
      nodes = deps.nodes ?? new NodeInformer({ kube: cfg.kubernetes, log: log.child({ component: 'node-watch' }) });
      // Not awaited: an API server that does not answer must not hold up CSI and the
      // device plugins. The CNI installer and routing act once the first LIST is in.
      void nodes.start();
    }
    if (routingOn) {
      routing = new RoutingReconciler({
        nodeName: cfg.nodeName, cfg: cfg.routing, nodes: nodes!, log: log.child({ component: 'routing' }),
        dataplane: deps.dataplane ?? new RealDataplane(new RealExec()), metrics: new RoutingMetrics(metrics.registry),
      });
      routing.start();
    }
    if (cfg.cni.enabled) {
      // With routing's masquerade on, the plugin's own (which masquerades everything
      // leaving this node's pod CIDR, other nodes' pods included) must be off.
      const cniCfg = routingOn && cfg.routing.masquerade ? { ...cfg.cni, ipMasq: false } : cfg.cni;
      cni = new CniController({
        cfg: cniCfg, nodeName: cfg.nodeName, nodes, log: log.child({ component: 'cni-install' }),
        onInstall: (kind) => metrics.cniInstalls.inc({ kind }),
      });
      await cni.start();
    }
    if (cfg.csi.enabled) {
      csi = await deps.components.startCsiDriver({
        endpoint: cfg.csi.endpoint, nodeId: cfg.nodeName, dataDir: cfg.csi.dataDir, driverName: cfg.csi.driverName,
        log: log.child({ component: 'csi' }), observe: metrics.observer('csi'),
        pluginsRegistry: cfg.csi.pluginsRegistry, maxVolumes: cfg.csi.maxVolumes,
      });
    }
    if (cfg.devicePlugin.enabled) {
      const dp = cfg.devicePlugin;
      devices = await deps.components.startDevicePlugins({
        config: dp.config, configPath: dp.configPath, kubeletDir: dp.kubeletDir, pluginsRegistry: dp.pluginsRegistry,
        cdiDir: dp.cdiDir, sysfsRoot: dp.sysfsRoot, log: log.child({ component: 'device-plugin' }), observe: metrics.observer('device-plugin'),
      });
    }
  } catch (e) {
    await stop();
    throw e;
  }
  const csiNow = csi;
  const devicesNow = devices;
  metrics.setSources({
    devices: devicesNow ? () => devicesNow.devices() : undefined,
    volumes: csiNow ? () => csiNow.stats() : undefined,
  });
  log.info({ node: cfg.nodeName, port: http.port, notReady: notReady() }, 'agent started');
  return { port: http.port, metrics, cni, routing, stop };
}
