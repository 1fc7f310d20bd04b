// The device plugin against a fake kubelet that behaves like the real one,
// in temp dirs: registration, health updates, Allocate / preferred
// allocation, kubelet restarts, config reload, the plugin-watcher path.
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { writeFileSync, rmSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import * as grpc from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import { startDevicePlugins, type DevicePlugins } from '../../../device-plugin/plugins.ts';
import { socketName } from '../../../device-plugin/resource-runner.ts';
import { cdiSpecPath } from '../../../device-plugin/cdi.ts';
import { silentLogger } from '../../../lib/logging.ts';
import { loadProto, lookup } from '../../../lib/grpc/proto.ts';
import { FakeKubelet, type KDevice } from '../../support/fake-kubelet.ts';
import { addPci, removeEntry } from '../../support/fake-sysfs.ts';
import { makeEnv, type TestEnv } from './env.ts';

let env: TestEnv;
let kubelet: FakeKubelet | undefined;
let plugins: DevicePlugins | undefined;

beforeEach(() => { env = makeEnv(); });
afterEach(async () => {
  await plugins?.close();
  await kubelet?.close();
  plugins = undefined;
  kubelet = undefined;
  env.cleanup();
});

const FUSE = 'hostplane.dev/fuse';
const GPU = 'nvidia.com/gpu';

function config(extra: Record<string, unknown>[] = []) {
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

async function start(cfg: unknown = config()) {
  env.writeConfig(cfg);
  plugins = await startDevicePlugins({ configPath: env.configPath, kubeletDir: env.kubeletDir, cdiDir: env.cdiDir, sysfsRoot: env.sysfs, pluginsRegistry: join(env.root, 'no-registry'), log: silentLogger() });
  return plugins;
}

const ids = (l: KDevice[] | undefined) => (l ?? []).map((d) => `${d.ID}:${d.health}`);

async function grpcCode(p: Promise<unknown>): Promise<{ code: number; details: string }> {
  try { await p; } catch (e) { return { code: (e as grpc.ServiceError).code, details: (e as grpc.ServiceError).details }; }
  throw new Error('call succeeded');
}

describe('Register', () => {
  it('serves the socket first and registers every resource; kubelet dials back inside Register', async () => {
    writeFileSync(join(env.devDir, 'fuse'), '');
    kubelet = await FakeKubelet.start(env.kubeletDir);
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
    kubelet = await FakeKubelet.start(env.kubeletDir);
    await kubelet.waitFor(() => kubelet!.plugins.size === 2, 1000, 'registration after kubelet start');
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('a refused Register is retried until kubelet accepts it', async () => {
    kubelet = await FakeKubelet.start(env.kubeletDir);
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

describe('ListAndWatch', () => {
  it('a device file that appears, disappears and reappears is reported within 100 ms each time', async () => {
    kubelet = await FakeKubelet.start(env.kubeletDir);
    await start();
    await kubelet.waitFor(() => kubelet!.latest(FUSE), 2000, 'first list');
    expect(kubelet.latest(FUSE)).toEqual([]);
    const dev = join(env.devDir, 'fuse0');
    const steps: Array<[() => void, string[]]> = [
      [() => writeFileSync(dev, ''), ['fuse0:Healthy']],
      [() => rmSync(dev), ['fuse0:Unhealthy']],
      [() => writeFileSync(dev, ''), ['fuse0:Healthy']],
      [() => writeFileSync(join(env.devDir, 'fuse1'), ''), ['fuse0:Healthy', 'fuse1:Healthy']],
    ];
    for (const [act, want] of steps) {
      const t0 = Date.now();
      act();
      await kubelet.waitFor(() => JSON.stringify(ids(kubelet!.latest(FUSE))) === JSON.stringify(want), 1000, want.join());
      expect(Date.now() - t0).toBeLessThan(100);
    }
  });

  it('a PCI device appearing in sysfs is reported with its NUMA node; removal marks it Unhealthy', async () => {
    kubelet = await FakeKubelet.start(env.kubeletDir);
    await start();
    await kubelet.waitFor(() => kubelet!.latest(GPU)?.length === 4, 2000, 'four GPUs');
    addPci(env.sysfs, '0000:d8:00.0', { vendor: '0x10de', class: '0x030200', numa: 1 });
    const added = await kubelet.waitFor(() => kubelet!.latest(GPU)?.find((d) => d.ID === '0000:d8:00.0'), 1000, 'new GPU');
    expect(added).toEqual({ ID: '0000:d8:00.0', health: 'Healthy', topology: { nodes: [{ ID: 1 }] } });
    removeEntry(env.sysfs, 'pci', '0000:3b:00.0');
    await kubelet.waitFor(() => kubelet!.latest(GPU)?.find((d) => d.ID === '0000:3b:00.0' && d.health === 'Unhealthy'), 1000, 'GPU unhealthy');
  });
});

describe('ListAndWatch on the real /dev', () => {
  const name = `hptest${process.pid}x`;
  afterEach(() => { for (let i = 0; i < 2; i++) rmSync(`/dev/${name}${i}`, { force: true }); });

  it('a character device node made with mknod in /dev (devtmpfs) is reported, and its removal too', async () => {
    kubelet = await FakeKubelet.start(env.kubeletDir);
    const RES = 'hostplane.dev/testnode';
    await start({ rescanIntervalSeconds: 0, resources: [{ name: RES, devices: [{ path: `/dev/${name}[0-9]` }] }] });
    await kubelet.waitFor(() => kubelet!.latest(RES), 2000, 'first list');
    // Same major/minor as /dev/null: harmless if anything opens it.
    let t0 = Date.now();
    execFileSync('mknod', ['-m', '0666', `/dev/${name}0`, 'c', '1', '3']);
    await kubelet.waitFor(() => kubelet!.latest(RES)?.[0]?.health === 'Healthy', 1000, 'node reported');
    expect(Date.now() - t0).toBeLessThan(100);
    const r = await kubelet.allocate(RES, [`${name}0`]);
    expect(r.container_responses[0]!.devices).toEqual([{ container_path: `/dev/${name}0`, host_path: `/dev/${name}0`, permissions: 'rw' }]);
    t0 = Date.now();
    rmSync(`/dev/${name}0`);
    await kubelet.waitFor(() => kubelet!.latest(RES)?.[0]?.health === 'Unhealthy', 1000, 'node gone');
    expect(Date.now() - t0).toBeLessThan(100);
  });
});

describe('Allocate', () => {
  it('returns nodes, mounts, env with ids, annotations and CDI names for one container', async () => {
    writeFileSync(join(env.devDir, 'fuse'), '');
    kubelet = await FakeKubelet.start(env.kubeletDir);
    await start();
    await kubelet.waitFor(() => kubelet!.plugins.size === 2, 2000, 'registered');
    const r = await kubelet.allocate(GPU, ['0000:86:00.0']);
    expect(r.container_responses).toHaveLength(1);
    expect(r.container_responses[0]).toEqual({
      envs: { HOSTPLANE_GPU_DEVICES: '0000:86:00.0' },
      mounts: [{ container_path: '/usr/local/nvidia/lib', host_path: '/usr/lib', read_only: true }],
      devices: [{ container_path: `${env.devDir}/nvidiactl`, host_path: `${env.devDir}/nvidiactl`, permissions: 'rw' }],
      annotations: { 'hostplane.dev/resource': 'gpu' },
      cdi_devices: [{ name: 'nvidia.com/gpu=0000:86:00.0' }],
    });
    const f = await kubelet.allocate(FUSE, ['fuse']);
    expect(f.container_responses[0]).toMatchObject({
      envs: { FUSE_MODE: 'on', HOSTPLANE_FUSE_DEVICES: 'fuse' },
      devices: [{ container_path: `${env.devDir}/fuse`, host_path: `${env.devDir}/fuse`, permissions: 'rw' }],
    });
  });

  it('unknown id → INVALID_ARGUMENT, unhealthy id → FAILED_PRECONDITION, the plugin keeps serving', async () => {
    writeFileSync(join(env.devDir, 'fuse'), '');
    kubelet = await FakeKubelet.start(env.kubeletDir);
    await start();
    await kubelet.waitFor(() => kubelet!.plugins.size === 2, 2000, 'registered');
    const unknown = await grpcCode(kubelet.allocate(FUSE, ['fuse9']));
    expect(unknown).toEqual({ code: status.INVALID_ARGUMENT, details: 'hostplane.dev/fuse: unknown device id "fuse9"' });
    rmSync(join(env.devDir, 'fuse'));
    await kubelet.waitFor(() => kubelet!.latest(FUSE)?.[0]?.health === 'Unhealthy', 1000, 'unhealthy');
    const sick = await grpcCode(kubelet.allocate(FUSE, ['fuse']));
    expect(sick).toEqual({ code: status.FAILED_PRECONDITION, details: 'hostplane.dev/fuse: device "fuse" is unhealthy' });
    expect((await grpcCode(kubelet.allocate(FUSE, []))).code).toBe(status.INVALID_ARGUMENT);
    expect((await kubelet.allocate(GPU, ['0000:3b:00.0'])).container_responses).toHaveLength(1);
  });
});

describe('GetPreferredAllocation', () => {
  it('prefers devices on one NUMA node and honours must_include', async () => {
    kubelet = await FakeKubelet.start(env.kubeletDir);
    await start();
    await kubelet.waitFor(() => kubelet!.latest(GPU)?.length === 4, 2000, 'GPUs');
    const all = kubelet.latest(GPU)!.map((d) => d.ID);
    expect(await kubelet.preferred(GPU, all, [], 2)).toEqual(['0000:3b:00.0', '0000:3c:00.0']);
    expect(await kubelet.preferred(GPU, all, ['0000:af:00.0'], 2)).toEqual(['0000:af:00.0', '0000:86:00.0']);
    expect((await grpcCode(kubelet.preferred(GPU, ['nope'], [], 1))).code).toBe(status.INVALID_ARGUMENT);
  });
});

describe('kubelet restart', () => {
  it('re-serves and re-registers within 1 s, 20 times in a row', async () => {
    writeFileSync(join(env.devDir, 'fuse'), '');
    kubelet = await FakeKubelet.start(env.kubeletDir);
    await start();
    await kubelet.waitFor(() => kubelet!.plugins.size === 2, 2000, 'registered');
    const times: number[] = [];
    for (let i = 0; i < 20; i++) {
      const before = kubelet.registrations.length;
      const t0 = Date.now();
      await kubelet.restart();
      await kubelet.waitFor(() => kubelet!.registrations.length >= before + 2 && kubelet!.plugins.size === 2 && kubelet!.latest(FUSE), 1000, `re-registration #${i + 1}`);
      times.push(Date.now() - t0);
    }
    expect(Math.max(...times)).toBeLessThan(1000);
    expect(await kubelet.allocate(FUSE, ['fuse'])).toBeTruthy();
  });

  it('a restart where kubelet.sock comes back late still ends registered', async () => {
    kubelet = await FakeKubelet.start(env.kubeletDir);
    await start();
    await kubelet.waitFor(() => kubelet!.plugins.size === 2, 2000, 'registered');
    await kubelet.stop();
    for (const s of [socketName(FUSE), socketName(GPU), 'kubelet.sock']) rmSync(join(env.kubeletDir, s), { force: true });
    await new Promise((r) => setTimeout(r, 300));
    await kubelet.restart();
    await kubelet.waitFor(() => kubelet!.plugins.size === 2, 1000, 're-registered');
    expect(existsSync(join(env.kubeletDir, socketName(GPU)))).toBe(true);
  });
});

describe('config reload', () => {
  it('applies a new config without restart: resource added, changed, removed (with its CDI spec)', async () => {
    writeFileSync(join(env.devDir, 'fuse'), '');
    writeFileSync(join(env.devDir, 'kvm'), '');
    kubelet = await FakeKubelet.start(env.kubeletDir);
    await start();
    await kubelet.waitFor(() => kubelet!.plugins.size === 2, 2000, 'registered');
    const KVM = 'hostplane.dev/kvm';
    env.writeConfig({ rescanIntervalSeconds: 0, resources: [
      { name: FUSE, devices: [{ path: `${env.devDir}/fuse*` }], sharing: { replicas: 2 } },
      { name: KVM, devices: [{ path: `${env.devDir}/kvm` }] },
    ] });
    await kubelet.waitFor(() => kubelet!.latest(KVM)?.length === 1, 2000, 'kvm registered');
    await kubelet.waitFor(() => JSON.stringify(ids(kubelet!.latest(FUSE))) === JSON.stringify(['fuse::0:Healthy', 'fuse::1:Healthy']), 2000, 'fuse shared');
    await kubelet.waitFor(() => !existsSync(cdiSpecPath(env.cdiDir, GPU)) || undefined, 2000, 'GPU CDI spec removed');
    expect(existsSync(join(env.kubeletDir, socketName(GPU)))).toBe(false);
    expect(plugins!.devices().some((d) => d.resource === GPU)).toBe(false);
  });

  it('a bad new config is rejected and the running one kept', async () => {
    writeFileSync(join(env.devDir, 'fuse'), '');
    kubelet = await FakeKubelet.start(env.kubeletDir);
    await start();
    await kubelet.waitFor(() => kubelet!.plugins.size === 2, 2000, 'registered');
    writeFileSync(env.configPath, 'resources:\n  - name: not-a-resource\n    devices: [{path: /dev/fuse}]\n');
    await new Promise((r) => setTimeout(r, 300));
    expect(plugins!.devices().map((d) => d.resource)).toContain(GPU);
    expect(existsSync(join(env.kubeletDir, socketName(GPU)))).toBe(true);
    expect((await kubelet.allocate(FUSE, ['fuse'])).container_responses).toHaveLength(1);
  });
});

describe('start-up failure', () => {
  it('a socket that cannot be served fails the start and leaves no other socket behind', async () => {
    const registry = join(env.root, 'plugins_registry');
    mkdirSync(registry);
    // A regular file where the GPU registration socket must go: bind is refused.
    writeFileSync(join(registry, socketName(GPU).replace(/\.sock$/, '-reg.sock')), 'not a socket');
    env.writeConfig(config());
    await expect(startDevicePlugins({ configPath: env.configPath, kubeletDir: env.kubeletDir, cdiDir: env.cdiDir, sysfsRoot: env.sysfs, pluginsRegistry: registry, log: silentLogger() }))
      .rejects.toThrow(/is not a socket/);
    expect(existsSync(join(env.kubeletDir, socketName(FUSE)))).toBe(false);
    expect(existsSync(join(env.kubeletDir, socketName(GPU)))).toBe(false);
    expect(existsSync(cdiSpecPath(env.cdiDir, GPU))).toBe(false);
  });
});

describe('plugin-watcher registration', () => {
  it('serves pluginregistration GetInfo (type DevicePlugin) when plugins_registry exists', async () => {
    const registry = join(env.root, 'plugins_registry');
    mkdirSync(registry);
    env.writeConfig(config());
    plugins = await startDevicePlugins({ configPath: env.configPath, kubeletDir: env.kubeletDir, cdiDir: env.cdiDir, sysfsRoot: env.sysfs, pluginsRegistry: registry, log: silentLogger() });
    const sock = join(registry, socketName(GPU).replace(/\.sock$/, '-reg.sock'));
    const Client = lookup<grpc.ServiceClientConstructor>(loadProto('pluginregistration/v1/api.proto'), 'pluginregistration.Registration');
    const c = new Client(`unix://${sock}`, grpc.credentials.createInsecure()) as grpc.Client & Record<string, (r: object, cb: (e: Error | null, v: unknown) => void) => void>;
    const info = await new Promise((res, rej) => c.GetInfo!({}, (e, v) => (e ? rej(e) : res(v))));
    c.close();
    expect(info).toEqual({ type: 'DevicePlugin', name: GPU, endpoint: join(env.kubeletDir, socketName(GPU)), supported_versions: ['v1beta1'] });
  });
});
