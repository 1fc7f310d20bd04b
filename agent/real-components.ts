// The real CSI driver and device plugins, wired in for the running agent.
import type { ComponentFactories } from './components.ts';
import { startCsiDriver } from '../csi/driver.ts';
import { startDevicePlugins } from '../device-plugin/plugins.ts';

export const realComponents: ComponentFactories = { startCsiDriver, startDevicePlugins };
