// The long-running components the agent hosts, as the agent sees them. The
// shapes are those exported by csi/driver.ts and device-plugin/plugins.ts;
// declaring them here lets the agent be tested with small fakes.
import type { Logger } from '../lib/logging.ts';
import type { CallObserver } from '../lib/grpc/handler.ts';
import type { DevicePluginConfig } from '../device-plugin/config.ts';

export interface CsiDriverHandle {
  close(): Promise<void>;
  stats(): Promise<{ volumes: number; bytes: number }>;
}

export interface CsiDriverOptions {
  endpoint: string;
  nodeId: string;
  dataDir: string;
  driverName?: string;
  log: Logger;
  observe?: CallObserver;
  pluginsRegistry?: string;
  maxVolumes?: number;
}

export interface DevicePluginsHandle {
  drain(): Promise<void>;
  close(): Promise<void>;
  devices(): Array<{ resource: string; id: string; health: 'Healthy' | 'Unhealthy' }>;
}

export interface DevicePluginsOptions {
  configPath?: string;
  config?: unknown;
  kubeletDir?: string;
  pluginsRegistry?: string;
  cdiDir?: string;
  sysfsRoot?: string;
  log: Logger;
  observe?: CallObserver;
}

export interface ComponentFactories {
  startCsiDriver(opts: CsiDriverOptions): Promise<CsiDriverHandle>;
  startDevicePlugins(opts: DevicePluginsOptions): Promise<DevicePluginsHandle>;
}
