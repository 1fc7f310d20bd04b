// The liveness check of each component the agent hosts, each asking through
// the component's own API what kubelet would ask: the CSI driver its Identity
// Probe, a device plugin its options, a registration socket its GetInfo, and
// the CNI installation whether its files are still where the runtime looks.
import { access, constants } from 'node:fs/promises';
import type { HealthCheck } from './monitor.ts';
import { probeUnary } from './grpc-probe.ts';

const REGISTRATION = ['pluginregistration/v1/api.proto', 'pluginregistration.Registration'] as const;

async function registrationAnswers(socket: string, name: string, deadlineMs: number): Promise<void> {
  const info = (await probeUnary(socket, ...REGISTRATION, 'GetInfo', deadlineMs)) as { name?: string };
  if (info.name !== name) throw new Error(`${socket} answers for ${JSON.stringify(info.name)}, not ${name}`);
}

export function csiCheck(socket: string): HealthCheck {
  return {
    component: 'csi',
    async check(deadlineMs) {
      const r = (await probeUnary(socket, 'csi.proto', 'csi.v1.Identity', 'Probe', deadlineMs)) as { ready?: { value?: boolean } | null };
      if (r.ready?.value === false) throw new Error('Probe: not ready');
    },
  };
}

/** The CSI driver's socket in plugins_registry: kubelet finds the driver through it. */
export function csiRegistrationCheck(socket: string, driverName: string): HealthCheck {
  return { component: 'csi-registration', check: (deadlineMs) => registrationAnswers(socket, driverName, deadlineMs) };
}

export interface DevicePluginEndpoint {
  resource: string;
  socket: string;
  registrationSocket?: string;
}

export function devicePluginCheck(endpoints: () => DevicePluginEndpoint[]): HealthCheck {
  return {
    component: 'device-plugin',
    async check(deadlineMs) {
      const failures: string[] = [];
      await Promise.all(
        endpoints().map(async (e) => {
          try {
            await probeUnary(e.socket, 'deviceplugin/v1beta1/api.proto', 'v1beta1.DevicePlugin', 'GetDevicePluginOptions', deadlineMs);
            if (e.registrationSocket) await registrationAnswers(e.registrationSocket, e.resource, deadlineMs);
          } catch (err) {
            failures.push(`${e.resource}: ${(err as Error).message}`);
          }
        }),
      );
      if (failures.length) throw new Error(failures.sort().join('; '));
    },
  };
}

/** The installed plugin binary (executable) and, once written, the conflist. */
export function cniCheck(files: () => { binary: string; conflist?: string }): HealthCheck {
  return {
    component: 'cni',
    async check() {
      const { binary, conflist } = files();
      await access(binary, constants.X_OK).catch(() => {
        throw new Error(`${binary} is missing or not executable`);
      });
      if (conflist)
        await access(conflist, constants.R_OK).catch(() => {
          throw new Error(`${conflist} is missing`);
        });
    },
  };
}
