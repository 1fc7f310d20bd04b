// Small stand-ins for the CSI driver and device plugins, recording what the
// agent asks of them. The fake CSI driver answers Identity.Probe on its
// endpoint and GetInfo on its registration socket, as the agent's liveness
// checks ask; a test can make it close them (a component dying).
import type * as grpc from '@grpc/grpc-js';
import { join } from 'node:path';
import type { ComponentFactories, CsiDriverOptions, DevicePluginsOptions } from '../../../agent/components.ts';
import { serveUnix, socketPathFromEndpoint, type UnixServer } from '../../../lib/grpc/unix-server.ts';
import { servePluginRegistration } from '../../../lib/grpc/plugin-registration.ts';
import { loadProto, lookup } from '../../../lib/grpc/proto.ts';

export function fakeComponents() {
  const events: string[] = [];
  const seen: { csi?: CsiDriverOptions; devices?: DevicePluginsOptions } = {};
  const servers: UnixServer[] = [];
  const components: ComponentFactories = {
    async startCsiDriver(opts) {
      seen.csi = opts;
      events.push('csi:start');
      opts.observe?.('/csi.v1.Identity/Probe', 'OK', 0.002);
      const identity = lookup<grpc.ServiceClientConstructor>(loadProto('csi.proto'), 'csi.v1.Identity').service;
      servers.push(
        await serveUnix(socketPathFromEndpoint(opts.endpoint), (s) =>
          s.addService(identity, {
            Probe: (_c: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, { ready: { value: true } }),
          }),
        ),
      );
      const name = opts.driverName ?? 'csi.hostplane.io';
      if (opts.pluginsRegistry) {
        servers.push(
          await servePluginRegistration({
            socketPath: join(opts.pluginsRegistry, `${name}-reg.sock`),
            info: { type: 'CSIPlugin', name, endpoint: opts.endpoint, supported_versions: ['1.0.0'] },
            log: opts.log,
          }),
        );
      }
      return {
        close: async () => {
          events.push('csi:close');
          await Promise.all(servers.map((s) => s.close(100)));
        },
        stats: async () => ({ volumes: 3, bytes: 3 * 1024 * 1024 }),
      };
    },
    async startDevicePlugins(opts) {
      seen.devices = opts;
      events.push('devices:start');
      return {
        endpoints: () => [],
        drain: async () => {
          events.push('devices:drain');
        },
        close: async () => {
          events.push('devices:close');
        },
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
