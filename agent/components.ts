// The long-running components the agent hosts, as the agent sees them: the
// options and handles are those csi/driver.ts and device-plugin/plugins.ts
// export (derived here, not restated), narrowed to what the agent uses so it
// can be tested with small fakes.
import type { CsiDriver, CsiDriverOptions } from '../csi/driver.ts';
import type { DevicePlugins, StartOptions as DevicePluginsOptions } from '../device-plugin/plugins.ts';

export type { CsiDriverOptions, DevicePluginsOptions };
export type CsiDriverHandle = Pick<CsiDriver, 'close' | 'stats'>;
export type DevicePluginsHandle = Pick<DevicePlugins, 'drain' | 'close' | 'devices' | 'endpoints'>;

export interface ComponentFactories {
  startCsiDriver(opts: CsiDriverOptions): Promise<CsiDriverHandle>;
  startDevicePlugins(opts: DevicePluginsOptions): Promise<DevicePluginsHandle>;
}
