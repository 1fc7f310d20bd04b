// ListAndWatch: device files and real /dev nodes appearing and vanishing reach
// the fake kubelet within 100 ms (inotify); PCI entries in sysfs, which sends
// no inotify events, within one rescan interval.
import { describe, it, expect, afterEach } from 'vitest';
import { statSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { silenceBus, silentAddPci, silentRemove } from '../../support/fake-sysfs.ts';
import { env, FUSE, GPU, useHarness, startKubelet, start, config, ids } from './harness.ts';

useHarness();

describe('ListAndWatch', () => {
  it('a device file that appears, disappears and reappears is reported within 100 ms each time', async () => {
    const kubelet = await startKubelet();
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

  // Real sysfs raises no inotify event for a device that appears or goes, so
  // the periodic rescan is what finds it: reported within one
  // rescanIntervalSeconds plus a scan (the bound device-plugin/README.md gives).
  const INTERVAL_S = 1;
  const SLACK_MS = 1000; // a loaded machine: timers late, a scan slow

  it('a PCI device appearing in sysfs (no inotify event) is reported by the rescan within one interval, with its NUMA node; removal marks it Unhealthy', async () => {
    silenceBus(env.sysfs, 'pci');
    const kubelet = await startKubelet();
    await start({ ...config(), rescanIntervalSeconds: INTERVAL_S });
    await kubelet.waitFor(() => kubelet!.latest(GPU)?.length === 4, 2000, 'four GPUs');
    let t0 = Date.now();
    silentAddPci(env.sysfs, '0000:d8:00.0', { vendor: '0x10de', class: '0x030200', numa: 1 });
    const added = await kubelet.waitFor(() => kubelet!.latest(GPU)?.find((d) => d.ID === '0000:d8:00.0'), INTERVAL_S * 1000 + SLACK_MS, 'new GPU');
    expect(Date.now() - t0).toBeLessThan(INTERVAL_S * 1000 + SLACK_MS);
    expect(added).toEqual({ ID: '0000:d8:00.0', health: 'Healthy', topology: { nodes: [{ ID: 1 }] } });
    t0 = Date.now();
    silentRemove(env.sysfs, 'pci', '0000:3b:00.0');
    await kubelet.waitFor(
      () => kubelet!.latest(GPU)?.find((d) => d.ID === '0000:3b:00.0' && d.health === 'Unhealthy'),
      INTERVAL_S * 1000 + SLACK_MS,
      'GPU unhealthy',
    );
    expect(Date.now() - t0).toBeLessThan(INTERVAL_S * 1000 + SLACK_MS);
  });

  it('control: with the rescan off, the same event-less sysfs change is not seen (the watch alone cannot see sysfs)', async () => {
    silenceBus(env.sysfs, 'pci');
    const kubelet = await startKubelet();
    await start({ ...config(), rescanIntervalSeconds: 0 });
    await kubelet.waitFor(() => kubelet!.latest(GPU)?.length === 4, 2000, 'four GPUs');
    silentAddPci(env.sysfs, '0000:d8:00.0', { vendor: '0x10de', class: '0x030200', numa: 1 });
    // An absence: waited for one interval plus the slack, as long as the test above allows.
    await new Promise((r) => setTimeout(r, INTERVAL_S * 1000 + SLACK_MS));
    expect(kubelet.latest(GPU)?.map((d) => d.ID)).not.toContain('0000:d8:00.0');
  });
});

describe('ListAndWatch on the real /dev', () => {
  const name = `hptest${process.pid}x`;
  afterEach(() => {
    for (let i = 0; i < 2; i++) rmSync(`/dev/${name}${i}`, { force: true });
  });

  it('a character device node made with mknod in /dev (devtmpfs) is reported, and its removal too', async () => {
    const kubelet = await startKubelet();
    const RES = 'hostplane.dev/testnode';
    await start({ rescanIntervalSeconds: 0, resources: [{ name: RES, devices: [{ path: `/dev/${name}[0-9]` }] }] });
    await kubelet.waitFor(() => kubelet!.latest(RES), 2000, 'first list');
    // Same major/minor as /dev/null: harmless if anything opens it.
    // Timed from the node's own birth (its ctime), not from spawning mknod,
    // whose fork/exec alone can take 100 ms on a loaded machine.
    const made = promisify(execFile)('mknod', ['-m', '0666', `/dev/${name}0`, 'c', '1', '3']);
    await kubelet.waitFor(() => kubelet!.latest(RES)?.[0]?.health === 'Healthy', 2000, 'node reported');
    const seenAt = kubelet.plugins.get(RES)!.updates.at(-1)!.at;
    await made;
    expect(seenAt - statSync(`/dev/${name}0`).ctimeMs).toBeLessThan(100);
    let t0 = 0;
    const r = await kubelet.allocate(RES, [`${name}0`]);
    expect(r.container_responses[0]!.devices).toEqual([{ container_path: `/dev/${name}0`, host_path: `/dev/${name}0`, permissions: 'rw' }]);
    t0 = Date.now();
    rmSync(`/dev/${name}0`);
    await kubelet.waitFor(() => kubelet!.latest(RES)?.[0]?.health === 'Unhealthy', 1000, 'node gone');
    expect(Date.now() - t0).toBeLessThan(100);
  });
});
