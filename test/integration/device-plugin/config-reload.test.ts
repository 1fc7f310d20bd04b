// Config changes applied without a restart; a bad config keeps the running one.
import { describe, it, expect } from 'vitest';
import pino from 'pino';
import { writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { socketName } from '../../../device-plugin/resource-runner.ts';
import { cdiSpecPath } from '../../../device-plugin/cdi.ts';
import { env, plugins, FUSE, GPU, useHarness, startKubelet, config, start, ids } from './harness.ts';

useHarness();

describe('config reload', () => {
  it('applies a new config without restart: resource added, changed, removed (with its CDI spec)', async () => {
    writeFileSync(join(env.devDir, 'fuse'), '');
    writeFileSync(join(env.devDir, 'kvm'), '');
    const kubelet = await startKubelet();
    await start();
    await kubelet.waitFor(() => kubelet!.plugins.size === 2, 2000, 'registered');
    const KVM = 'hostplane.dev/kvm';
    env.writeConfig({
      rescanIntervalSeconds: 0,
      resources: [
        { name: FUSE, devices: [{ path: `${env.devDir}/fuse*` }], sharing: { replicas: 2 } },
        { name: KVM, devices: [{ path: `${env.devDir}/kvm` }] },
      ],
    });
    await kubelet.waitFor(() => kubelet!.latest(KVM)?.length === 1, 2000, 'kvm registered');
    await kubelet.waitFor(() => JSON.stringify(ids(kubelet!.latest(FUSE))) === JSON.stringify(['fuse::0:Healthy', 'fuse::1:Healthy']), 2000, 'fuse shared');
    await kubelet.waitFor(() => !existsSync(cdiSpecPath(env.cdiDir, GPU)) || undefined, 2000, 'GPU CDI spec removed');
    expect(existsSync(join(env.kubeletDir, socketName(GPU)))).toBe(false);
    expect(plugins!.devices().some((d) => d.resource === GPU)).toBe(false);
  });

  it('a bad new config is rejected and the running one kept', async () => {
    writeFileSync(join(env.devDir, 'fuse'), '');
    const kubelet = await startKubelet();
    // The rejection is observed in the plugin's own log, not assumed after a sleep.
    const lines: Array<{ msg?: string; err?: string }> = [];
    const log = pino(
      { level: 'info' },
      {
        write: (l: string) => {
          lines.push(JSON.parse(l));
        },
      },
    );
    await start(config(), { log });
    await kubelet.waitFor(() => kubelet!.plugins.size === 2, 2000, 'registered');
    writeFileSync(env.configPath, 'resources:\n  - name: not-a-resource\n    devices: [{path: /dev/fuse}]\n');
    const rejected = await kubelet.waitFor(() => lines.find((l) => l.msg === 'new config rejected; keeping the running one'), 5000, 'rejection logged');
    expect(rejected.err).toMatch(/resources\[0\]\.name: must be vendor\.domain\/resource/);
    expect(lines.some((l) => l.msg === 'config changed')).toBe(false);
    expect(plugins!.devices().map((d) => d.resource)).toContain(GPU);
    expect(existsSync(join(env.kubeletDir, socketName(GPU)))).toBe(true);
    expect((await kubelet.allocate(FUSE, ['fuse'])).container_responses).toHaveLength(1);
  });
});
