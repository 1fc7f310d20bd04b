// Shared set-up of the device-plugin integration tests: a temp world (env.ts),
// a fake kubelet and the plugin under test, torn down after every test even
// when it fails. Live bindings: tests read `env`, `kubelet`, `plugins`.
import { beforeEach, afterEach } from 'vitest';
import { join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import { startDevicePlugins, type DevicePlugins, type StartOptions } from '../../../device-plugin/plugins.ts';
import { silentLogger } from '../../../lib/logging.ts';
import { FakeKubelet, type KDevice } from '../../support/fake-kubelet.ts';
import { makeEnv, type TestEnv } from './env.ts';

export let env: TestEnv;
export let kubelet: FakeKubelet | undefined;
export let plugins: DevicePlugins | undefined;

export const FUSE = 'hostplane.dev/fuse';
export const GPU = 'nvidia.com/gpu';

/** Call once at the top of a test file. */
export function useHarness(): void {
  beforeEach(() => {
    env = makeEnv();
  });
  afterEach(async () => {
    await plugins?.close();
    await kubelet?.close();
    plugins = undefined;
    kubelet = undefined;
    env.cleanup();
  });
}

export async function startKubelet(): Promise<FakeKubelet> {
  kubelet = await FakeKubelet.start(env.kubeletDir);
  return kubelet;
}

/** A fuse resource (files in env.devDir) and a GPU resource (PCI in the fake sysfs). */
export function config(extra: Record<string, unknown>[] = []) {
  return {
    rescanIntervalSeconds: 0,
    resources: [
      { name: FUSE, devices: [{ path: `${env.devDir}/fuse*` }], env: { FUSE_MODE: 'on' } },
      {
        name: GPU,
        devices: [{ pci: { vendor: '0x10de', class: ['0x0300', '0x0302'] } }],
        deviceNodes: [`${env.devDir}/nvidiactl`],
        mounts: [{ hostPath: '/usr/lib', containerPath: '/usr/local/nvidia/lib', readOnly: true }],
        annotations: { 'hostplane.dev/resource': 'gpu' },
      },
      ...extra,
    ],
  };
}

export async function start(cfg: unknown = config(), opts: Partial<StartOptions> = {}): Promise<DevicePlugins> {
  env.writeConfig(cfg);
  plugins = await startDevicePlugins({
    configPath: env.configPath,
    kubeletDir: env.kubeletDir,
    cdiDir: env.cdiDir,
    sysfsRoot: env.sysfs,
    pluginsRegistry: join(env.root, 'no-registry'),
    log: silentLogger(),
    ...opts,
  });
  return plugins;
}

export const ids = (l: KDevice[] | undefined) => (l ?? []).map((d) => `${d.ID}:${d.health}`);

export async function grpcCode(p: Promise<unknown>): Promise<{ code: number; details: string }> {
  try {
    await p;
  } catch (e) {
    return { code: (e as grpc.ServiceError).code, details: (e as grpc.ServiceError).details };
  }
  throw new Error('call succeeded');
}
