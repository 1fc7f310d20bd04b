// Serves kubelet's plugin-watcher Registration API on a socket in
// plugins_registry. kubelet finds the socket by inotify (or at start-up),
// asks GetInfo, then reports the outcome with NotifyRegistrationStatus. Used
// by the CSI driver (type CSIPlugin) and the device plugin (type DevicePlugin).
import type * as grpc from '@grpc/grpc-js';
import { loadProto, lookup } from './proto.ts';
import { wrapUnary, type CallObserver } from './handler.ts';
import { serveUnix, type UnixServer } from './unix-server.ts';
import type { Logger } from '../logging.ts';

export interface PluginInfo {
  type: 'CSIPlugin' | 'DevicePlugin';
  name: string;
  endpoint: string;
  supported_versions: string[];
}

export interface RegistrationStatus {
  plugin_registered: boolean;
  error: string;
}

export interface PluginRegistrationOptions {
  /** Socket path inside plugins_registry, e.g. /var/lib/kubelet/plugins_registry/NAME-reg.sock */
  socketPath: string;
  info: PluginInfo;
  log: Logger;
  observe?: CallObserver;
  onStatus?: (s: RegistrationStatus) => void;
}

export function registrationService(): grpc.ServiceDefinition {
  return lookup<grpc.ServiceClientConstructor>(loadProto('pluginregistration/v1/api.proto'), 'pluginregistration.Registration').service;
}

export async function servePluginRegistration(opts: PluginRegistrationOptions): Promise<UnixServer> {
  const wrap = { log: opts.log, ...(opts.observe ? { observe: opts.observe } : {}) };
  return serveUnix(opts.socketPath, (server) => {
    server.addService(registrationService(), {
      GetInfo: wrapUnary('/pluginregistration.Registration/GetInfo', () => opts.info, wrap),
      NotifyRegistrationStatus: wrapUnary(
        '/pluginregistration.Registration/NotifyRegistrationStatus',
        (req: RegistrationStatus) => {
          if (req.plugin_registered) opts.log.info({ name: opts.info.name }, 'registered with kubelet');
          else opts.log.error({ name: opts.info.name, err: req.error }, 'kubelet refused registration');
          opts.onStatus?.(req);
          return {};
        },
        wrap,
      ),
    });
  });
}
