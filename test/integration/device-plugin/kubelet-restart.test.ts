// kubelet restarts: socket dir wiped, kubelet.sock recreated; the plugin serves
// and registers again within 1 s, every time.
import { describe, it, expect } from 'vitest';
import { writeFileSync, rmSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { socketName } from '../../../device-plugin/resource-runner.ts';
import { env, FUSE, GPU, useHarness, startKubelet, start } from './harness.ts';

useHarness();

describe('kubelet restart', () => {
  it('re-serves and re-registers within 1 s, 20 times in a row', async () => {
    writeFileSync(join(env.devDir, 'fuse'), '');
    const kubelet = await startKubelet();
    await start();
    await kubelet.waitFor(() => kubelet!.plugins.size === 2, 2000, 'registered');
    const times: number[] = [];
    for (let i = 0; i < 20; i++) {
      const before = kubelet.registrations.length;
      const t0 = Date.now();
      await kubelet.restart();
      await kubelet.waitFor(
        () => kubelet!.registrations.length >= before + 2 && kubelet!.plugins.size === 2 && kubelet!.latest(FUSE),
        1000,
        `re-registration #${i + 1}`,
      );
      times.push(Date.now() - t0);
    }
    expect(Math.max(...times)).toBeLessThan(1000);
    expect(await kubelet.allocate(FUSE, ['fuse'])).toBeTruthy();
  });

  it('kubelet deleting and recreating the device-plugins dir itself: the plugin serves and registers again', async () => {
    writeFileSync(join(env.devDir, 'fuse'), '');
    const kubelet = await startKubelet();
    await start();
    await kubelet.waitFor(() => kubelet!.plugins.size === 2, 2000, 'registered');
    for (let i = 0; i < 3; i++) {
      const before = kubelet.registrations.length;
      await kubelet.stop();
      rmSync(env.kubeletDir, { recursive: true, force: true });
      await new Promise((r) => setTimeout(r, 100));
      mkdirSync(env.kubeletDir, { recursive: true }); // kubelet's MkdirAll; we may have recreated it first
      await kubelet.restart();
      await kubelet.waitFor(
        () => kubelet!.registrations.length >= before + 2 && kubelet!.plugins.size === 2 && kubelet!.latest(FUSE),
        3000,
        `re-registration after dir recreate #${i + 1}`,
      );
      expect(existsSync(join(env.kubeletDir, socketName(FUSE)))).toBe(true);
    }
    expect(await kubelet.allocate(FUSE, ['fuse'])).toBeTruthy();
  });

  it('a restart where kubelet.sock comes back late still ends registered', async () => {
    const kubelet = await startKubelet();
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
