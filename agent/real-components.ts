// The real CSI driver and device plugins, wired in for the running agent.
import type { ComponentFactories } from './components.ts';

// Placeholder until csi/driver.ts and device-plugin/plugins.ts land.
export const realComponents: ComponentFactories = {
  async startCsiDriver() {
    throw new Error('csi driver not available in this build');
  },
  async startDevicePlugins() {
    throw new Error('device plugins not available in this build');
  },
};
