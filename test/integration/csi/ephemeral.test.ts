// Inline ephemeral volumes, as kubelet drives them: NodePublishVolume with no
// staging path and `csi.storage.k8s.io/ephemeral: "true"` in volume_context
// (plus the pod keys podInfoOnMount adds), NodeUnpublishVolume at the end.
// Real loop devices, filesystems and mounts.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { startHarness, MiB, type Harness } from './harness.ts';
import { codeOf, mountCap, blockCap } from './client.ts';
import { loopsHolding, loopsHoldingSettled, mountsUnder } from './host.ts';
import { ephemeralIdFor } from '../../../csi/context.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('eph');
});
afterAll(async () => {
  await h?.close();
});

// kubelet's handle for an inline volume: csi-<sha256(pod uid + volume name)>.
const handle = (n: string) => `csi-${n.padEnd(64, '0')}`;
const podCtx = (extra: Record<string, string> = {}) => ({
  'csi.storage.k8s.io/ephemeral': 'true',
  'csi.storage.k8s.io/pod.name': 'p',
  'csi.storage.k8s.io/pod.namespace': 'default',
  'csi.storage.k8s.io/pod.uid': 'u',
  'csi.storage.k8s.io/serviceAccount.name': 'default',
  ...extra,
});
const target = (n: string) => join(h.dir, 'pods', n, 'volumes', 'kubernetes.io~csi', 'scratch', 'mount');
const image = (hd: string) => join(h.dataDir, 'images', `${ephemeralIdFor(hd)}.img`);
const publish = (hd: string, t: string, extra: object = {}) =>
  h.client.node.NodePublishVolume({ volume_id: hd, target_path: t, volume_capability: mountCap(''), volume_context: podCtx(), ...extra });
const dfSize = (p: string) => Number(execFileSync('df', ['-B1', '--output=size', p], { encoding: 'utf8' }).split('\n')[1]);

describe('inline ephemeral volumes', () => {
  it('Publish makes a sized, formatted, mounted volume; again is OK; Unpublish removes everything', async () => {
    const hd = handle('a1');
    const t = target('a1');
    await publish(hd, t, { volume_context: podCtx({ size: '64Mi' }) });
    expect(execFileSync('findmnt', ['-n', '-o', 'FSTYPE', '--mountpoint', t], { encoding: 'utf8' }).trim()).toBe('ext4');
    expect(dfSize(t)).toBeGreaterThan(50 * MiB);
    expect(dfSize(t)).toBeLessThanOrEqual(64 * MiB);
    writeFileSync(join(t, 'f'), 'data');
    // Writing past the size fails: the image's length is the limit.
    const fd = openSync(join(t, 'big'), 'w');
    let code: string | undefined;
    try {
      for (let i = 0; i < 96; i++) writeSync(fd, Buffer.alloc(MiB, 1));
    } catch (e) {
      code = (e as NodeJS.ErrnoException).code;
    } finally {
      closeSync(fd);
    }
    expect(code).toBe('ENOSPC');

    await publish(hd, t, { volume_context: podCtx({ size: '64Mi' }) });
    expect(readFileSync(join(t, 'f'), 'utf8')).toBe('data');
    expect(loopsHolding(image(hd))).toHaveLength(1);
    expect(mountsUnder(h.dir).filter((m) => m === t)).toHaveLength(1);
    // Kubelet's volume stats work on its handle; the Controller never sees the volume.
    const st = await h.client.node.NodeGetVolumeStats({ volume_id: hd, volume_path: t });
    expect(st.volume_condition.abnormal).toBe(false);
    const list = await h.client.controller.ListVolumes({});
    expect(list.entries).toEqual([]);
    expect(await codeOf(h.client.controller.ControllerGetVolume({ volume_id: ephemeralIdFor(hd) }))).toBe('NOT_FOUND');

    await h.client.node.NodeUnpublishVolume({ volume_id: hd, target_path: t });
    expect(existsSync(t)).toBe(false);
    expect(mountsUnder(h.dir)).not.toContain(t);
    expect(existsSync(image(hd))).toBe(false);
    expect(readdirSync(join(h.dataDir, 'state', 'volumes'))).toEqual([]);
    expect(await codeOf(h.client.node.NodeUnpublishVolume({ volume_id: hd, target_path: t }))).toBe('NOT_FOUND');
  });

  it('defaults to 1 GiB ext4; fsType xfs and read-only are honoured', async () => {
    const d = handle('b1');
    await publish(d, target('b1'));
    expect(dfSize(target('b1'))).toBeGreaterThan(900 * MiB);
    const x = handle('b2');
    await publish(x, target('b2'), { volume_context: podCtx({ size: '320Mi', fsType: 'xfs' }) });
    expect(execFileSync('findmnt', ['-n', '-o', 'FSTYPE', '--mountpoint', target('b2')], { encoding: 'utf8' }).trim()).toBe('xfs');
    const r = handle('b3');
    await publish(r, target('b3'), { volume_context: podCtx({ size: '16Mi' }), readonly: true });
    expect(() => writeFileSync(join(target('b3'), 'x'), 'y')).toThrow(/EROFS/);
    for (const [hd, n] of [
      [d, 'b1'],
      [x, 'b2'],
      [r, 'b3'],
    ] as const)
      await h.client.node.NodeUnpublishVolume({ volume_id: hd, target_path: target(n) });
    expect(readdirSync(join(h.dataDir, 'images'))).toEqual([]);
  });

  it.each([
    ['an unknown attribute', { volume_context: podCtx({ colour: 'blue' }) }, 'INVALID_ARGUMENT'],
    ['a malformed size', { volume_context: podCtx({ size: 'lots' }) }, 'INVALID_ARGUMENT'],
    ['an unsupported fsType', { volume_context: podCtx({ fsType: 'btrfs' }) }, 'INVALID_ARGUMENT'],
    ['a block capability', { volume_capability: blockCap() }, 'INVALID_ARGUMENT'],
    ['no capability', { volume_capability: null }, 'INVALID_ARGUMENT'],
    ['a staging path', { staging_target_path: '/tmp/x' }, 'INVALID_ARGUMENT'],
    ['a multi-node access mode', { volume_capability: mountCap('', 'MULTI_NODE_MULTI_WRITER') }, 'INVALID_ARGUMENT'],
    ['fs_type conflicting with fsType', { volume_capability: mountCap('xfs'), volume_context: podCtx({ fsType: 'ext4' }) }, 'INVALID_ARGUMENT'],
    ['xfs below 300 MiB', { volume_context: podCtx({ fsType: 'xfs', size: '64Mi' }) }, 'OUT_OF_RANGE'],
    ['more than the node can promise (disk policy, as CreateVolume)', { volume_context: podCtx({ size: '60Ti' }) }, 'RESOURCE_EXHAUSTED'],
  ])('%s → %s, and nothing is created', async (_n, extra, code) => {
    const hd = handle('bad');
    expect(await codeOf(publish(hd, target('bad'), extra))).toBe(code);
    expect(existsSync(target('bad'))).toBe(false);
    expect(readdirSync(join(h.dataDir, 'images'))).toEqual([]);
    expect(readdirSync(join(h.dataDir, 'state', 'volumes'))).toEqual([]);
  });

  it('a second target for the same handle, or another size → ALREADY_EXISTS', async () => {
    const hd = handle('c1');
    await publish(hd, target('c1'), { volume_context: podCtx({ size: '16Mi' }) });
    expect(await codeOf(publish(hd, target('c2'), { volume_context: podCtx({ size: '16Mi' }) }))).toBe('ALREADY_EXISTS');
    expect(await codeOf(publish(hd, target('c1'), { volume_context: podCtx({ size: '32Mi' }) }))).toBe('ALREADY_EXISTS');
    await h.client.node.NodeUnpublishVolume({ volume_id: hd, target_path: target('c1') });
  });

  it('survives a driver restart; a Publish cut short by a crash is rolled back at start-up and redone', async () => {
    const hd = handle('d1');
    const t = target('d1');
    await publish(hd, t, { volume_context: podCtx({ size: '16Mi' }) });
    writeFileSync(join(t, 'f'), 'kept');
    await h.restart();
    expect(readFileSync(join(t, 'f'), 'utf8')).toBe('kept');
    expect(loopsHolding(image(hd))).toHaveLength(1);
    await h.client.node.NodeUnpublishVolume({ volume_id: hd, target_path: t });
    expect(existsSync(image(hd))).toBe(false);

    // A crash after the mount but before the record said ready.
    const hd2 = handle('d2');
    const t2 = target('d2');
    await publish(hd2, t2, { volume_context: podCtx({ size: '16Mi' }) });
    const recFile = join(h.dataDir, 'state', 'volumes', `${ephemeralIdFor(hd2)}.json`);
    writeFileSync(recFile, JSON.stringify({ ...JSON.parse(readFileSync(recFile, 'utf8')), status: 'creating' }));
    await h.restart();
    expect(mountsUnder(h.dir)).not.toContain(t2);
    expect(existsSync(image(hd2))).toBe(false);
    expect(existsSync(recFile)).toBe(false);
    await publish(hd2, t2, { volume_context: podCtx({ size: '16Mi' }) });
    expect(loopsHolding(image(hd2))).toHaveLength(1);
    await h.client.node.NodeUnpublishVolume({ volume_id: hd2, target_path: t2 });
    expect(await loopsHoldingSettled(image(hd2))).toEqual([]);
  });

  it('persistent volumes are untouched by the ephemeral path: no ephemeral key still needs a staging path', async () => {
    expect(
      await codeOf(
        h.client.node.NodePublishVolume({
          volume_id: handle('e1'),
          target_path: target('e1'),
          volume_capability: mountCap(''),
          volume_context: { 'csi.storage.k8s.io/ephemeral': 'false' },
        }),
      ),
    ).toBe('INVALID_ARGUMENT');
  });
});
