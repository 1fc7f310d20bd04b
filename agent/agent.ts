// The per-node agent: one process that installs the CNI plugin and serves
// the CSI driver, the device plugins and the health/metrics endpoint.
// Start order: metrics/health first (so a crash-looping start is visible),
// then CNI (pods need it before anything else), CSI and devices side by side.
// Stop order (SIGTERM): drain the device plugins so kubelet sees an empty
// list rather than a vanished stream, then stop serving gRPC. Nothing on the
// host is removed: volumes stay mounted, the CNI plugin and conflist stay in
// place, because running pods depend on all of them.
import { join } from 'node:path';
import type { Logger } from '../lib/logging.ts';
import { errorMessage } from '../lib/errors.ts';
import type { AgentConfig } from './config.ts';
import type { ComponentFactories, CsiDriverHandle, DevicePluginsHandle } from './components.ts';
import { CniController } from './cni/controller.ts';
import type { NodeSource } from './kube/node-source.ts';
import { startCniServer, type CniServer } from './cni/server.ts';
import { usageOf } from '../cni/ipam/usage.ts';
import { AgentMetrics } from './metrics.ts';
import { startHealthServer, type HealthServer } from './http-server.ts';
import { lockDir, type DirLock } from '../lib/flock.ts';
import { socketPathFromEndpoint } from '../lib/grpc/unix-server.ts';
import { HealthMonitor, HEALTH_DEFAULTS } from './health/monitor.ts';
import { csiCheck, csiRegistrationCheck, devicePluginCheck, cniCheck } from './health/checks.ts';
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
  /** How often and how patiently liveness checks ask each component (tests shorten them). */
  health?: { intervalMs?: number; deadlineMs?: number };
}

export interface RunningAgent {
  /** The port /healthz and /metrics answer on (useful when configured as 0). */
  port: number;
  metrics: AgentMetrics;
  cni: CniController | undefined;
  routing: RoutingReconciler | undefined;
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
  const locks: DirLock[] = [];
  const health = new HealthMonitor({ ...HEALTH_DEFAULTS, ...deps.health, log: log.child({ component: 'health' }) });
  let nodes: NodeSource | undefined;
  let routing: RoutingReconciler | undefined;

  const notReady = (): string[] => {
    const out: string[] = [];
    if (cfg.cni.enabled && !cni?.isReady()) out.push('cni');
    if (cfg.csi.enabled && !csi) out.push('csi');
    if (cfg.devicePlugin.enabled && !devices) out.push('device-plugin');
    for (const f of health.failures()) out.push(`${f.component} (${f.reason})`);
    return out;
  };

  const stop = async (): Promise<void> => {
    health.stop();
    cni?.stop();
    await cniServer?.close().catch((e: unknown) => log.error({ err: errorMessage(e) }, 'cni server close failed'));
    // Routes, VXLAN devices and the masquerade table stay: running pods use them.
    routing?.stop();
    await nodes?.stop().catch(() => {});
    if (devices) {
      await devices.drain().catch((e: unknown) => log.error({ err: errorMessage(e) }, 'device plugin drain failed'));
      await devices.close().catch((e: unknown) => log.error({ err: errorMessage(e) }, 'device plugin close failed'));
    }
    await csi?.close().catch((e: unknown) => log.error({ err: errorMessage(e) }, 'csi driver close failed'));
    await http?.close();
    for (const l of locks) await l.release();
    log.info('agent stopped; volumes, mounts and the CNI installation left in place');
  };

  try {
    // One agent per node: the state dirs are locked before anything is
    // served, so a second agent stops here, naming the first one's pid.
    const stateDirs = [...(cfg.csi.enabled ? [cfg.csi.dataDir] : []), ...(cfg.cni.enabled ? [cfg.cni.ipamDataDir] : [])];
    for (const d of stateDirs) locks.push(await lockDir(d));
    http = await startHealthServer({
      address: cfg.http.address,
      port: cfg.http.port,
      registry: metrics.registry,
      notReady,
      unhealthy: () => health.failures(),
      log,
      debug: { '/debug/peers': () => routing?.peerTable() ?? { mode: 'off' } },
    });
    const routingOn = cfg.routing.mode !== 'off';
    if ((cfg.cni.enabled && cfg.cni.podCIDRs.length === 0) || routingOn) {
      // Loaded only when needed (its own chunk of the bundle): a single-node agent never reads it.
      const { NodeInformer } = await import('./kube/node-informer.ts');
      nodes = deps.nodes ?? new NodeInformer({ kube: cfg.kubernetes, log: log.child({ component: 'node-watch' }) });
      // Not awaited: an API server that does not answer must not hold up CSI and the
      // device plugins. The CNI installer and routing act once the first LIST is in.
      void nodes.start();
    }
    if (routingOn) {
      routing = new RoutingReconciler({
        nodeName: cfg.nodeName,
        cfg: cfg.routing,
        nodes: nodes!,
        log: log.child({ component: 'routing' }),
        dataplane: deps.dataplane ?? new RealDataplane(new RealExec()),
        metrics: new RoutingMetrics(metrics.registry),
      });
      routing.start();
    }
    // CNI and the kubelet plugins start side by side: each mostly waits on the
    // file system, host tools and sockets, and neither needs the other. The CSI
    // driver still starts before the device plugins: it creates
    // plugins_registry when kubelet has not yet, and the device plugins use
    // that directory only if it exists. If one side fails, the other is let
    // finish starting, then everything is stopped.
    const startCni = async (): Promise<void> => {
      if (cfg.cni.enabled && cfg.cni.server.enabled) {
        const sc = cfg.cni.server;
        cniServer = await startCniServer({
          socket: sc.socket,
          netnsDirs: sc.netnsDirs,
          ipamDirs: sc.ipamDirs,
          maxExecs: sc.maxExecs,
          netnsHelper: cfg.cni.binarySource,
          log: log.child({ component: 'cni' }),
          observe: (command, result, seconds) => {
            metrics.cniRequests.inc({ command, result });
            metrics.cniDuration.observe({ command }, seconds);
          },
          onTeardown: (ok) => metrics.cniTeardowns.inc({ result: ok ? 'ok' : 'failed' }),
        });
      }
      if (cfg.cni.enabled) {
        // With routing's masquerade on, the plugin's own (which masquerades everything
        // leaving this node's pod CIDR, other nodes' pods included) must be off.
        const cniCfg = routingOn && cfg.routing.masquerade ? { ...cfg.cni, ipMasq: false } : cfg.cni;
        cni = new CniController({
          cfg: cniCfg,
          nodeName: cfg.nodeName,
          nodes,
          log: log.child({ component: 'cni-install' }),
          onInstall: (kind) => metrics.cniInstalls.inc({ kind }),
        });
        await cni.start();
      }
    };
    const startCsi = async (): Promise<void> => {
      if (!cfg.csi.enabled) return;
      const { enabled: _csi, ...csiOptions } = cfg.csi;
      csi = await deps.components.startCsiDriver({
        ...csiOptions,
        nodeId: cfg.nodeName,
        log: log.child({ component: 'csi' }),
        observe: metrics.observer('csi'),
      });
    };
    const startDevices = async (): Promise<void> => {
      if (!cfg.devicePlugin.enabled) return;
      const { enabled: _dp, ...dpOptions } = cfg.devicePlugin;
      devices = await deps.components.startDevicePlugins({
        ...dpOptions,
        log: log.child({ component: 'device-plugin' }),
        observe: metrics.observer('device-plugin'),
      });
    };
    const started = await Promise.allSettled([
      startCni(),
      (async () => {
        await startCsi();
        await startDevices();
      })(),
    ]);
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  } catch (e) {
    await stop();
    throw e;
  }
  const cniServerNow = cniServer;
  const csiNow = csi;
  const devicesNow = devices;
  const cniNow = cni;
  // Checked only once everything started: a slow start is the readiness probe's business, not a reason to restart.
  if (cniNow) health.add(cniCheck(() => cniNow.installedFiles()));
  if (csiNow) {
    health.add(csiCheck(socketPathFromEndpoint(cfg.csi.endpoint)));
    if (cfg.csi.pluginsRegistry) health.add(csiRegistrationCheck(join(cfg.csi.pluginsRegistry, `${cfg.csi.driverName}-reg.sock`), cfg.csi.driverName));
  }
  if (devicesNow) health.add(devicePluginCheck(() => devicesNow.endpoints()));
  await health.checkNow();
  health.start();
  metrics.setSources({
    devices: devicesNow ? () => devicesNow.devices() : undefined,
    volumes: csiNow ? () => csiNow.stats() : undefined,
    health: () => health.states(),
    cni: cniServerNow
      ? () => {
          const pools = [],
            attachments = [];
          for (const { network, ipam } of cniServerNow.networks().values()) {
            const u = usageOf(network, ipam, cniServerNow.bootId);
            pools.push(...u.pools);
            attachments.push(u.attachments);
          }
          return { pools, attachments };
        }
      : undefined,
  });
  log.info({ node: cfg.nodeName, port: http.port, notReady: notReady() }, 'agent started');
  return { port: http.port, metrics, cni, routing, cniServer, stop };
}
