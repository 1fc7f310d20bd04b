import { describe, it, expect, afterEach } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { FileStore } from '../../../csi/state/store.ts';
import { silentLogger } from '../../../lib/logging.ts';
import type { VolumeRecord } from '../../../csi/state/records.ts';

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const vol = (id: string): VolumeRecord => ({
  id,
  name: id,
  capacityBytes: 1,
  status: 'ready',
  parameters: {},
  mutableParameters: {},
  createdAt: 'now',
  publish: {},
});

describe('FileStore', () => {
  it('a record written survives a reload; a removed one does not', async () => {
    dir = mkdtempSync('/tmp/hp-csi-store-');
    const s = await FileStore.open(dir, silentLogger());
    await s.putVolume(vol('v-a'));
    await s.putVolume(vol('v-b'));
    await s.removeVolume('v-a');
    await s.putSnapshot({ id: 's-1', name: 's', sourceVolumeId: 'v-b', sizeBytes: 1, status: 'ready', createdAtMs: 5 });
    const again = await FileStore.open(dir, silentLogger());
    expect(again.volumes().map((v) => v.id)).toEqual(['v-b']);
    expect(again.snapshot('s-1')?.createdAtMs).toBe(5);
    expect(readdirSync(join(dir, 'volumes')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('ignores temp files of an interrupted write and records that do not match their file name', async () => {
    dir = mkdtempSync('/tmp/hp-csi-store-');
    const s = await FileStore.open(dir, silentLogger());
    await s.putVolume(vol('v-ok'));
    writeFileSync(join(dir, 'volumes', '.v-ok.json.123.abcd.tmp'), '{"id":"v-ok","broken');
    writeFileSync(join(dir, 'volumes', 'v-x.json'), JSON.stringify(vol('v-y')));
    writeFileSync(join(dir, 'volumes', 'v-z.json'), 'not json');
    const again = await FileStore.open(dir, silentLogger());
    expect(again.volumes().map((v) => v.id)).toEqual(['v-ok']);
  });

  it('hands out copies: mutating a returned record changes nothing stored', async () => {
    dir = mkdtempSync('/tmp/hp-csi-store-');
    const s = await FileStore.open(dir, silentLogger());
    await s.putVolume(vol('v-a'));
    s.volume('v-a')!.capacityBytes = 99;
    expect(s.volume('v-a')!.capacityBytes).toBe(1);
  });
});
