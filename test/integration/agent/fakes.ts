// Small stand-ins for the CSI driver and device plugins, recording what the
// agent asks of them.
import type { ComponentFactories, CsiDriverOptions, DevicePluginsOptions } from '../../../agent/components.ts';

export function fakeComponents() {
  const events: string[] = [];
  const seen: { csi?: CsiDriverOptions; devices?: DevicePluginsOptions } = {};
  const components: ComponentFactories = {
    async startCsiDriver(opts) {
      seen.csi = opts;
      events.push('csi:start');
      opts.observe?.('/csi.v1.Identity/Probe', 'OK', 0.002);
      return {
        close: async () => { events.push('csi:close'); },
        stats: async () => ({ volumes: 3, bytes: 3 * 1024 * 1024 }),
      };
    },
    async startDevicePlugins(opts) {
      seen.devices = opts;
      events.push('devices:start');
      return {
        drain: async () => { events.push('devices:drain'); },
        close: async () => { events.push('devices:close'); },
        devices: () => [
          { resource: 'hostplane.dev/fuse', id: 'fuse-0', health: 'Healthy' },
          { resource: 'hostplane.dev/fuse', id: 'fuse-1', health: 'Healthy' },
          { resource: 'hostplane.dev/tun', id: 'tun-0', health: 'Unhealthy' },
        ],
      };
    },
  };
  return { components, events, seen };
}
