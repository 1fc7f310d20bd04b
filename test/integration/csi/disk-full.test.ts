// The host disk fills. The driver's data dir is a small ext4 of the test's own
// (a 32 MiB image on a loop device, no root reserve), so "full" is reached in
// a second and nothing else on the machine notices. The policy under test
// (csi/volumes/capacity.ts, csi/README.md "Disk policy"): a sparse volume's
// whole capacity counts as promised from CreateVolume on, a reserve stays
// free, GetCapacity reports what CreateVolume would accept, and a state write
// refused by a full disk answers RESOURCE_EXHAUSTED and changes nothing.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, lstatSync, openSync, writeSync, closeSync, fsyncSync, rmSync, statfsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { startCsiDriver, type CsiDriver } from '../../../csi/driver.ts';
import { silentLogger } from '../../../lib/logging.ts';
import { csiClient, codeOf, blockCap, type CsiClient, deleteVolumeRetrying } from './client.ts';
import { cleanupHost } from './host.ts';
import { liveLoopsUnder } from './live-loops.ts';
import { MiB } from './harness.ts';

let dir: string;
let dataDir: string;
let driver: CsiDriver | undefined;
let c: CsiClient;

beforeAll(async () => {
  dir = mkdtempSync('/tmp/hp-csi-full-');
  dataDir = join(dir, 'data');
  mkdirSync(dataDir);
  execFileSync('truncate', ['-s', '32M', join(dir, 'disk.img')]);
  execFileSync('mkfs.ext4', ['-q', '-F', '-m', '0', join(dir, 'disk.img')]);
  execFileSync('mount', ['-o', 'loop', join(dir, 'disk.img'), dataDir]);
  driver = await startCsiDriver({ endpoint: `unix://${dir}/csi.sock`, nodeId: 'test-node', dataDir, log: silentLogger() });
  c = csiClient(join(dir, 'csi.sock'));
});
afterAll(async () => {
  c?.close();
  await driver?.close();
  if (dir) cleanupHost(dir);
});

const free = () => {
  const s = statfsSync(dataDir);
  return s.bavail * s.bsize;
};
const fsSize = () => {
  const s = statfsSync(dataDir);
  return s.blocks * s.bsize;
};
// The documented default reserve: 5% of the data dir's filesystem, at most 1 GiB.
const defaultReserve = (fs: number) => Math.min(1024 ** 3, Math.floor(fs * 0.05));
const available = async () => Number((await c.controller.GetCapacity({})).available_capacity);

/** Path → sha256 of every file under `d` (records, images, temp files alike). */
function hashes(d: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of readdirSync(d, { withFileTypes: true })) {
    const p = join(d, e.name);
    if (e.name === 'lost+found') continue;
    if (e.isDirectory()) Object.assign(out, hashes(p));
    else out[p] = `${lstatSync(p).size} ${createHash('sha256').update(readFileSync(p)).digest('hex')}`;
  }
  return out;
}

const create = (name: string, bytes: number) =>
  c.controller.CreateVolume({ name, capacity_range: { required_bytes: bytes }, volume_capabilities: [blockCap()] });

let volA: string;
let volB: string;
let leftAfterB: number;

describe('disk policy: promised capacity counts', () => {
  it("GetCapacity is the free space less the reserve, and drops by a new volume's whole capacity though nothing is written", async () => {
    const c0 = await available();
    expect(c0).toBeLessThanOrEqual(free() - defaultReserve(fsSize()));
    expect(c0).toBeGreaterThan(free() - defaultReserve(fsSize()) - MiB);
    volA = (await create('a', 4 * MiB)).volume.volume_id;
    const c1 = await available();
    expect(c1).toBeLessThanOrEqual(c0 - 4 * MiB);
    expect(c1).toBeGreaterThan(c0 - 5 * MiB); // the record costs a block, not a MiB
    expect(Number((await c.controller.GetCapacity({})).maximum_volume_size.value)).toBe(c1);
  });

  it('concurrent Creates never promise more than there is: exactly as many fit as GetCapacity allows', async () => {
    const c1 = await available();
    const q = Math.floor(c1 / 4 / MiB) * MiB;
    const fit = Math.floor(c1 / q);
    const codes = await Promise.all(Array.from({ length: fit + 2 }, (_, i) => codeOf(create(`q${i}`, q))));
    expect(codes.filter((x) => x === undefined)).toHaveLength(fit);
    expect(codes.filter((x) => x !== undefined)).toEqual(Array(2).fill('RESOURCE_EXHAUSTED'));
    const ids = (await c.controller.ListVolumes({})).entries.map((e: { volume: { volume_id: string } }) => e.volume.volume_id);
    for (const v of ids) if (v !== volA) await deleteVolumeRetrying(c.controller, v);
    expect(Math.abs((await available()) - c1)).toBeLessThan(64 * 1024);
  });

  it('CreateVolume past what is left → RESOURCE_EXHAUSTED (so the CO may try another node), nothing changed; what GetCapacity offers fits', async () => {
    const left = await available();
    const before = hashes(dataDir);
    const tooBig = (Math.floor(left / MiB) + 1) * MiB;
    expect(tooBig).toBeLessThan(free()); // the old check (free space only) would have said yes
    expect(await codeOf(create('too-big', tooBig))).toBe('RESOURCE_EXHAUSTED');
    expect(hashes(dataDir)).toEqual(before);
    volB = (await create('b', Math.floor(left / MiB) * MiB)).volume.volume_id;
    leftAfterB = await available();
    expect(leftAfterB).toBeLessThan(MiB);
    expect(await codeOf(c.controller.ControllerExpandVolume({ volume_id: volA, capacity_range: { required_bytes: 6 * MiB } }))).toBe('OUT_OF_RANGE');
  });

  it('every promised byte can be written: both volumes filled to capacity through their loop devices without an I/O error', async () => {
    for (const id of [volA, volB]) {
      const staging = join(dir, 'staging', id);
      const target = join(dir, 'pods', id, 'dev');
      mkdirSync(staging, { recursive: true });
      await c.node.NodeStageVolume({ volume_id: id, staging_target_path: staging, volume_capability: blockCap() });
      await c.node.NodePublishVolume({ volume_id: id, staging_target_path: staging, target_path: target, volume_capability: blockCap() });
      const bytes = Number(execFileSync('blockdev', ['--getsize64', target], { encoding: 'utf8' }));
      // Random data: nothing can be deduplicated or left sparse.
      execFileSync('dd', ['if=/dev/urandom', `of=${target}`, 'bs=1M', `count=${bytes / MiB}`, 'oflag=direct', 'conv=fsync', 'status=none']);
      await c.node.NodeUnpublishVolume({ volume_id: id, target_path: target });
      await c.node.NodeUnstageVolume({ volume_id: id, staging_target_path: staging });
    }
    for (let i = 0; i < 100 && liveLoopsUnder(dataDir).length; i++) await new Promise((r) => setTimeout(r, 50));
    expect(liveLoopsUnder(dataDir)).toEqual([]);
    // Writing what was promised takes nothing more from what is offered (a few blocks of extent tree at most).
    expect(leftAfterB - (await available())).toBeLessThan(64 * 1024);
  });
});

describe('disk policy: the disk fills from outside', () => {
  let filler: string;

  it('a state write refused by the full disk → RESOURCE_EXHAUSTED, no torn record or temp file, memory agrees with disk', async () => {
    filler = join(dataDir, 'filler');
    const fd = openSync(filler, 'w');
    try {
      for (const chunk of [64 * 1024, 1024, 1]) {
        const buf = Buffer.alloc(chunk, 1);
        try {
          for (;;) writeSync(fd, buf);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
        }
      }
      try {
        fsyncSync(fd);
      } catch {
        /* full */
      }
    } finally {
      closeSync(fd);
    }
    expect(free()).toBe(0);
    const state = join(dataDir, 'state');
    const before = hashes(state);
    let err: grpc.ServiceError | undefined;
    try {
      await c.controller.ControllerModifyVolume({ volume_id: volA, mutable_parameters: { readAheadKB: '256' } });
    } catch (e) {
      err = e as grpc.ServiceError;
    }
    expect(grpc.status[err?.code ?? 0]).toBe('RESOURCE_EXHAUSTED');
    expect(err!.details).toMatch(/full/);
    expect(await codeOf(c.controller.ControllerPublishVolume({ volume_id: volA, node_id: 'test-node', volume_capability: blockCap() }))).toBe(
      'RESOURCE_EXHAUSTED',
    );
    expect(await codeOf(create('while-full', MiB))).toBe('RESOURCE_EXHAUSTED');
    expect(hashes(state)).toEqual(before); // no temp file left, no record changed
    const v = await c.controller.ValidateVolumeCapabilities({ volume_id: volA, volume_capabilities: [blockCap()] });
    expect(v.confirmed.mutable_parameters).toEqual({}); // the refused change is not in memory either
  });

  it('DeleteVolume still works on a full disk, and frees the space; the refused call then succeeds', async () => {
    expect(await codeOf(deleteVolumeRetrying(c.controller, volB))).toBeUndefined();
    expect(readdirSync(join(dataDir, 'images'))).toEqual([`${volA}.img`]);
    expect(readdirSync(join(dataDir, 'state', 'volumes'))).toEqual([`${volA}.json`]);
    expect(free()).toBeGreaterThan(8 * MiB);
    await c.controller.ControllerModifyVolume({ volume_id: volA, mutable_parameters: { readAheadKB: '256' } });
    rmSync(filler);
    await deleteVolumeRetrying(c.controller, volA);
    expect(Object.keys(hashes(dataDir))).toEqual([]);
  });
});

describe('disk policy: overprovisioning, when the operator asks for it', () => {
  it('--overprovision-ratio 2 with a 1 MiB reserve: twice the pool may be promised, and GetCapacity says exactly what is left', async () => {
    c.close();
    await driver!.close();
    driver = await startCsiDriver({
      endpoint: `unix://${dir}/csi.sock`,
      nodeId: 'test-node',
      dataDir,
      log: silentLogger(),
      overprovisionRatio: 2,
      capacityReserveBytes: MiB,
    });
    c = csiClient(join(dir, 'csi.sock'));
    const pool = free() - MiB;
    const offered = await available();
    expect(Math.abs(offered - 2 * pool)).toBeLessThan(64 * 1024);
    const big = Math.floor((pool * 1.5) / MiB) * MiB; // more than the disk holds
    const { volume } = await create('thin', big);
    expect(Math.abs((await available()) - (2 * (free() - MiB) - big))).toBeLessThan(64 * 1024);
    expect(await codeOf(create('thinner', (Math.floor((await available()) / MiB) + 1) * MiB))).toBe('RESOURCE_EXHAUSTED');
    await deleteVolumeRetrying(c.controller, volume.volume_id);
  });
});
