// Registration with kubelet: before and after kubelet.sock exists, retries, CDI specs
// on start, the plugin-watcher socket, and a start that cannot complete.
import { describe, it, expect } from 'vitest';
import { writeFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { startDevicePlugins } from '../../../device-plugin/plugins.ts';
import { socketName } from '../../../device-plugin/resource-runner.ts';
import { cdiSpecPath } from '../../../device-plugin/cdi.ts';
import { silentLogger } from '../../../lib/logging.ts';
import { loadProto, lookup } from '../../../lib/grpc/proto.ts';
import { env, plugins, FUSE, GPU, useHarness, startKubelet, config, start, ids } from './harness.ts';

useHarness();

describe('Register', () => {
  it('serves the socket first and registers every resource; kubelet dials back inside Register', async () => {
    writeFileSync(join(env.devDir, 'fuse'), '');
    const kubelet = await startKubelet();
    await start();
    await kubelet.waitFor(() => kubelet!.plugins.size === 2 && kubelet!.latest(GPU) && kubelet!.latest(FUSE), 2000, 'both registered');
    const gpu = kubelet.plugins.get(GPU)!;
    expect(gpu.endpoint).toBe(socketName(GPU));
    expect(gpu.options).toEqual({ pre_start_required: false, get_preferred_allocation_available: true });
    expect(kubelet.latest(GPU)).toEqual([
      { ID: '0000:3b:00.0', health: 'Healthy', topology: { nodes: [{ ID: 0 }] } },
      { ID: '0000:3c:00.0', health: 'Healthy', topology: { nodes: [{ ID: 0 }] } },
      { ID: '0000:86:00.0', health: 'Healthy', topology: { nodes: [{ ID: 1 }] } },
      { ID: '0000:af:00.0', health: 'Healthy', topology: { nodes: [{ ID: 1 }] } },
    ]);
    expect(ids(kubelet.latest(FUSE))).toEqual(['fuse:Healthy']);
    expect(plugins!.devices()).toContainEqual({ resource: FUSE, id: 'fuse', health: 'Healthy' });
  });

  it('starting before kubelet.sock exists works: registers when kubelet comes up', async () => {
    writeFileSync(join(env.devDir, 'fuse'), '');
    await start();
    expect(existsSync(join(env.kubeletDir, socketName(FUSE)))).toBe(true);
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    const kubelet = await startKubelet();
    await kubelet.waitFor(() => kubelet!.plugins.size === 2, 1000, 'registration after kubelet start');
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('a refused Register is retried until kubelet accepts it', async () => {
    const kubelet = await startKubelet();
    kubelet.refuseRegistrations = 4;
    await start();
    await kubelet.waitFor(() => kubelet!.plugins.size === 2, 3000, 'registration after refusals');
    expect(kubelet.refused).toBe(4);
  });

  it('writes one CDI spec per resource with devices', async () => {
    writeFileSync(join(env.devDir, 'fuse'), '');
    await start();
    const spec = JSON.parse(readFileSync(cdiSpecPath(env.cdiDir, GPU), 'utf8'));
    expect(spec.kind).toBe(GPU);
    expect(spec.devices.map((d: { name: string }) => d.name)).toEqual(['0000:3b:00.0', '0000:3c:00.0', '0000:86:00.0', '0000:af:00.0']);
    expect(existsSync(cdiSpecPath(env.cdiDir, FUSE))).toBe(true);
  });
});

describe('plugin-watcher registration', () => {
  it('serves pluginregistration GetInfo (type DevicePlugin) when plugins_registry exists', async () => {
    const registry = join(env.root, 'plugins_registry');
    mkdirSync(registry);
    await start(config(), { pluginsRegistry: registry });
    const sock = join(registry, socketName(GPU).replace(/\.sock$/, '-reg.sock'));
    const Client = lookup<grpc.ServiceClientConstructor>(loadProto('pluginregistration/v1/api.proto'), 'pluginregistration.Registration');
    const c = new Client(`unix://${sock}`, grpc.credentials.createInsecure()) as grpc.Client &
      Record<string, (r: object, cb: (e: Error | null, v: unknown) => void) => void>;
    const info = await new Promise((res, rej) => c.GetInfo!({}, (e, v) => (e ? rej(e) : res(v))));
    c.close();
    expect(info).toEqual({ type: 'DevicePlugin', name: GPU, endpoint: join(env.kubeletDir, socketName(GPU)), supported_versions: ['v1beta1'] });
  });
});

describe('start-up failure', () => {
  it('a socket that cannot be served fails the start and leaves no other socket behind', async () => {
    const registry = join(env.root, 'plugins_registry');
    mkdirSync(registry);
    // A regular file where the GPU registration socket must go: bind is refused.
    writeFileSync(join(registry, socketName(GPU).replace(/\.sock$/, '-reg.sock')), 'not a socket');
    env.writeConfig(config());
    await expect(
      startDevicePlugins({
        configPath: env.configPath,
        kubeletDir: env.kubeletDir,
        cdiDir: env.cdiDir,
        sysfsRoot: env.sysfs,
        pluginsRegistry: registry,
        log: silentLogger(),
      }),
    ).rejects.toThrow(/is not a socket/);
    expect(existsSync(join(env.kubeletDir, socketName(FUSE)))).toBe(false);
    expect(existsSync(join(env.kubeletDir, socketName(GPU)))).toBe(false);
    expect(existsSync(cdiSpecPath(env.cdiDir, GPU))).toBe(false);
  });
});
