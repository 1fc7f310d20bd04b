// Spare pre-formatted images through the driver (csi/volumes/spares.ts) on
// the real kernel: a filesystem volume made from a spare stages without mkfs
// and enforces its size; block volumes never get one; a half-made spare left
// by a crash is removed at start-up and never used; a spare's image lost to a
// crash after CreateVolume is made again blank (and then formatted at Stage).
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startHarness, MiB, type Harness } from './harness.ts';
import { blockCap, deleteVolumeRetrying, mountCap } from './client.ts';

let h: Harness;
beforeEach(async () => {
  h = await startHarness('spares');
});
afterEach(async () => {
  await h?.close();
});

const spares = () => readdirSync(join(h.dataDir, 'spares'));
const record = (id: string) => JSON.parse(readFileSync(join(h.dataDir, 'state', 'volumes', `${id}.json`), 'utf8'));
async function waitFor(what: string, ok: () => boolean, ms = 30_000) {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 25))) if (ok()) return;
  expect(ok(), what).toBe(true);
}
const create = async (name: string, bytes = 64 * MiB, c: object = mountCap('ext4')) =>
  (await h.client.controller.CreateVolume({ name, capacity_range: { required_bytes: bytes }, volume_capabilities: [c] })).volume.volume_id as string;

async function stage(id: string, name: string, c = mountCap('ext4')) {
  const staging = join(h.dir, 'staging', name);
  mkdirSync(staging, { recursive: true });
  await h.client.node.NodeStageVolume({ volume_id: id, staging_target_path: staging, volume_capability: c });
  return staging;
}

describe('spare images', () => {
  it('the second filesystem volume of a size is made from a spare: staged from its fresh filesystem, mounted ext4 of that size, writing past it fails', async () => {
    const first = await create('sp-1');
    expect(record(first).blank).toBe(true);
    await waitFor('a spare was made', () => spares().some((n) => n.endsWith('.img')));
    expect(spares()[0]).toMatch(/^ext4-67108864-\d+\.img$/);
    const id = await create('sp-2');
    expect(record(id).formatted).toBe('ext4');
    expect(record(id).blank).toBeUndefined();
    const staging = await stage(id, 'sp-2');
    expect(execFileSync('findmnt', ['-n', '-o', 'FSTYPE', staging], { encoding: 'utf8' }).trim()).toBe('ext4');
    expect(record(id).formatted).toBeUndefined(); // from now on it holds data
    const size = Number(execFileSync('df', ['-B1', '--output=size', staging], { encoding: 'utf8' }).split('\n')[1]);
    expect(size).toBeGreaterThan(50 * MiB);
    expect(size).toBeLessThanOrEqual(64 * MiB);
    expect(() => execFileSync('dd', ['if=/dev/zero', `of=${join(staging, 'big')}`, 'bs=1M', 'count=80'], { stdio: 'pipe' })).toThrow(/No space left/);
    await h.client.node.NodeUnstageVolume({ volume_id: id, staging_target_path: staging });
    await deleteVolumeRetrying(h.client.controller, id);
    await deleteVolumeRetrying(h.client.controller, first);
  });

  it('a block volume never takes a spare (it must read zeros)', async () => {
    await create('sp-a');
    await waitFor('a spare was made', () => spares().some((n) => n.endsWith('.img')));
    const id = await create('sp-b', 64 * MiB, blockCap());
    expect(record(id).blank).toBe(true);
    expect(record(id).formatted).toBeUndefined();
    expect(spares().filter((n) => n.endsWith('.img'))).toHaveLength(1);
  });

  it('a half-made spare (a crash mid-format) is removed at start-up and never used', async () => {
    const tmp = join(h.dataDir, 'spares', '.ext4-67108864-99.tmp');
    writeFileSync(tmp, 'half');
    await h.restart();
    expect(existsSync(tmp)).toBe(false);
    const id = await create('sp-h');
    expect(record(id).blank).toBe(true); // nothing usable was there
    expect(existsSync(join(h.dataDir, 'images', `${id}.img`))).toBe(false); // made at first use
  });

  it("a spare's image lost to a crash after CreateVolume (the rename was not yet on disk): the volume is blank again, its image made and formatted at Stage", async () => {
    await create('sp-x');
    await waitFor('a spare was made', () => spares().some((n) => n.endsWith('.img')));
    const id = await create('sp-y');
    expect(record(id).formatted).toBe('ext4');
    await h.driver.close();
    rmSync(join(h.dataDir, 'images', `${id}.img`));
    await h.restart();
    expect(record(id).formatted).toBeUndefined();
    expect(record(id).blank).toBe(true);
    const staging = await stage(id, 'sp-y');
    expect(existsSync(join(h.dataDir, 'images', `${id}.img`))).toBe(true);
    expect(execFileSync('findmnt', ['-n', '-o', 'FSTYPE', staging], { encoding: 'utf8' }).trim()).toBe('ext4');
    await h.client.node.NodeUnstageVolume({ volume_id: id, staging_target_path: staging });
  });
});
