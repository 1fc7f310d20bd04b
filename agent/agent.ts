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
import { startCniServer, type CniServer } from './cni/server.ts';
import { usageOf } from '../cni/ipam/usage.ts';
import { InClusterClient, type KubeClient } from './kube/client.ts';
import { AgentMetrics } from './metrics.ts';
import { startHealthServer, type HealthServer } from './http-server.ts';

export interface AgentDeps {
  log: Logger;
  components: ComponentFactories;
  kube?: KubeClient;
  metrics?: AgentMetrics;
}

export interface RunningAgent {
  /** The port /healthz and /metrics answer on (useful when configured as 0). */
  port: number;
  metrics: AgentMetrics;
  cni: CniController | undefined;
  cniServer?: CniServer | undefined;
  stop(): Promise<void>;
}

export async function startAgent(cfg: AgentConfig, deps: AgentDeps): Promise<RunningAgent> {
  const { log } = deps;
  const metrics = deps.metrics ?? new AgentMetrics();
  let csi: CsiDriverHandle | undefined;
  let devices: DevicePluginsHandle | undefined;
  let cni: CniController | undefined;
  let cniServer: CniServer | undefined;
  let http: HealthServer | undefined;

  const notReady = (): string[] => {
    const out: string[] = [];
    if (cfg.cni.enabled && !cni?.isReady()) out.push('cni');
    if (cfg.csi.enabled && !csi) out.push('csi');
    if (cfg.devicePlugin.enabled && !devices) out.push('device-plugin');
    return out;
  };

  const stop = async (): Promise<void> => {
    cni?.stop();
    await cniServer?.close().catch((e: unknown) => log.error({ err: errorMessage(e) }, 'cni server close failed'));
    if (devices) {
      await devices.drain().catch((e: unknown) => log.error({ err: errorMessage(e) }, 'device plugin drain failed'));
      await devices.close().catch((e: unknown) => log.error({ err: errorMessage(e) }, 'device plugin close failed'));
    }
    await csi?.close().catch((e: unknown) => log.error({ err: errorMessage(e) }, 'csi driver close failed'));
    await http?.close();
    log.info('agent stopped; volumes, mounts and the CNI installation left in place');
  };

  try {
    http = await startHealthServer({ address: cfg.http.address, port: cfg.http.port, registry: metrics.registry, notReady, log });
    if (cfg.cni.enabled && cfg.cni.server.enabled) {
      const sc = cfg.cni.server;
      cniServer = await startCniServer({
        socket: sc.socket, netnsDirs: sc.netnsDirs, ipamDirs: sc.ipamDirs, maxExecs: sc.maxExecs, netnsHelper: cfg.cni.binarySource,
        log: log.child({ component: 'cni' }),
        observe: (command, result, seconds) => {
          metrics.cniRequests.inc({ command, result });
          metrics.cniDuration.observe({ command }, seconds);
        },
        onTeardown: (ok) => metrics.cniTeardowns.inc({ result: ok ? 'ok' : 'failed' }),
      });
    }
    if (cfg.cni.enabled) {
      const kube = deps.kube ?? (cfg.cni.podCIDRs.length ? undefined : new InClusterClient(cfg.kubernetes));
      cni = new CniController({
        cfg: cfg.cni, nodeName: cfg.nodeName, kube, log: log.child({ component: 'cni-install' }),
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
  const cniNow = cniServer;
  const csiNow = csi;
  const devicesNow = devices;
  metrics.setSources({
    devices: devicesNow ? () => devicesNow.devices() : undefined,
    volumes: csiNow ? () => csiNow.stats() : undefined,
    cni: cniNow ? () => {
      const pools = [], attachments = [];
      for (const { network, ipam } of cniNow.networks().values()) {
        const u = usageOf(network, ipam, cniNow.bootId);
        pools.push(...u.pools);
        attachments.push(u.attachments);
      }
      return { pools, attachments };
    } : undefined,
  });
  log.info({ node: cfg.nodeName, port: http.port, notReady: notReady() }, 'agent started');
  return { port: http.port, metrics, cni, cniServer, stop };
}
