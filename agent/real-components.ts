// The real CSI driver and device plugins, wired in for the running agent.
import type { ComponentFactories } from './components.ts';
import { startDevicePlugins } from '../device-plugin/plugins.ts';

export const realComponents: ComponentFactories = {
  // Placeholder until csi/driver.ts lands.
  async startCsiDriver() {
    throw new Error('csi driver not available in this build');
  },
  startDevicePlugins,
};
