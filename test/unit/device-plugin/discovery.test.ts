import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { rmSync, mkdtempSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listPci, classMatches } from '../../../device-plugin/discovery/pci.ts';
import { listUsb } from '../../../device-plugin/discovery/usb.ts';
import { scanResource, maxBaseId } from '../../../device-plugin/discovery/scanner.ts';
import { makeId, idForPath, MAX_ID } from '../../../device-plugin/discovery/device.ts';
import { validateConfig } from '../../../device-plugin/config.ts';
import { CdiWriter, cdiSpecPath } from '../../../device-plugin/cdi.ts';
import { copySysfs, addPci } from '../../support/fake-sysfs.ts';

const resource = (r: Record<string, unknown>) => validateConfig({ resources: [{ name: 'nvidia.com/gpu', ...r }] }).resources[0]!;

let sys = '';
let tmp = '';
beforeEach(() => {
  sys = copySysfs();
  tmp = mkdtempSync(join(tmpdir(), 'hp-dp-'));
});
afterEach(() => {
  rmSync(sys, { recursive: true, force: true });
  rmSync(tmp, { recursive: true, force: true });
});

describe('PCI discovery', () => {
  it('reads vendor, class and NUMA node (-1 → none)', () => {
    const all = listPci(sys);
    expect(all.map((d) => d.address)).toEqual(['0000:00:1c.0', '0000:00:1f.6', '0000:3b:00.0', '0000:3c:00.0', '0000:86:00.0', '0000:af:00.0']);
    expect(all.find((d) => d.address === '0000:86:00.0')).toMatchObject({ vendor: 0x10de, classCode: 0x030200, numa: 1 });
    expect(all.find((d) => d.address === '0000:00:1f.6')?.numa).toBeUndefined();
  });

  it.each([
    [0x030200, '03', true],
    [0x030200, '0302', true],
    [0x030200, '0300', false],
    [0x030200, '030200', true],
    [0x030000, '0302', false],
  ])('class %s vs %s → %s', (c, w, want) => {
    expect(classMatches(c, w)).toBe(want);
  });

  it('selects by vendor and class, with NUMA topology', () => {
    const r = scanResource(resource({ devices: [{ pci: { vendor: '0x10de', class: ['0x0302'] } }] }), sys);
    expect(r.devices).toEqual([
      { id: '0000:3b:00.0', nodes: [], numa: 0, usable: true },
      { id: '0000:3c:00.0', nodes: [], numa: 0, usable: true },
      { id: '0000:86:00.0', nodes: [], numa: 1, usable: true },
    ]);
    expect(r.watchDirs).toEqual([join(sys, 'bus/pci/devices')]);
  });

  it('pairs PCI functions with device node files in order; a missing node is unusable', () => {
    for (const n of ['nvidia0', 'nvidia1', 'nvidia2']) writeFileSync(join(tmp, n), '');
    const r = scanResource(resource({ devices: [{ pci: { vendor: '0x10de', class: ['0x0300', '0x0302'], deviceNodes: `${tmp}/nvidia[0-9]*` } }] }), sys);
    expect(r.devices.map((d) => [d.id, d.nodes, d.usable])).toEqual([
      ['0000:3b:00.0', [`${tmp}/nvidia0`], true],
      ['0000:3c:00.0', [`${tmp}/nvidia1`], true],
      ['0000:86:00.0', [`${tmp}/nvidia2`], true],
      ['0000:af:00.0', [], false],
    ]);
    expect(r.watchDirs).toContain(tmp);
  });

  it('skips a half-written entry instead of guessing', () => {
    addPci(sys, '0000:d8:00.0', { vendor: '0x10de', class: '0x030200', numa: 1 });
    rmSync(join(sys, 'bus/pci/devices/0000:d8:00.0/class'));
    expect(listPci(sys).map((d) => d.address)).not.toContain('0000:d8:00.0');
  });
});

describe('USB discovery', () => {
  it('reads vendor/product and maps bus/dev to /dev/bus/usb/BBB/DDD, skipping interfaces', () => {
    expect(listUsb(sys).map((d) => [d.name, d.node])).toEqual([
      ['1-1', '/dev/bus/usb/001/003'],
      ['1-2', '/dev/bus/usb/001/001'],
      ['2-1.4', '/dev/bus/usb/002/007'],
    ]);
  });

  it('selects by vendor, and by product when given', () => {
    const all = scanResource(resource({ devices: [{ usb: { vendor: '0403' } }] }), sys);
    expect(all.devices.map((d) => d.id)).toEqual(['usb-1-1', 'usb-2-1.4']);
    const one = scanResource(resource({ devices: [{ usb: { vendor: '0403', product: '6015' } }] }), sys);
    expect(one.devices).toEqual([{ id: 'usb-2-1.4', nodes: ['/dev/bus/usb/002/007'], usable: true }]);
  });
});

describe('device ids', () => {
  it('are derived from the path, at most 63 chars, and fit the sharing suffix', () => {
    expect(idForPath('/dev/nvidia0', MAX_ID)).toBe('nvidia0');
    expect(idForPath('/dev/net/tun', MAX_ID)).toBe('net_tun');
    expect(idForPath('/tmp/x/dev 3', MAX_ID)).toBe('dev_3');
    const long = makeId(`${'x'.repeat(100)}7`, MAX_ID);
    expect(long.length).toBeLessThanOrEqual(MAX_ID);
    expect(long.endsWith('x7')).toBe(true);
    const max = maxBaseId(1000);
    expect(`${makeId('y'.repeat(200), max)}::999`.length).toBeLessThanOrEqual(MAX_ID);
  });

  it('path globs: one device per match, parent dirs watched', () => {
    writeFileSync(join(tmp, 'ttyUSB0'), '');
    writeFileSync(join(tmp, 'ttyUSB1'), '');
    const r = scanResource(resource({ devices: [{ path: `${tmp}/ttyUSB*` }, { path: `${tmp}/missing/fuse` }] }), sys);
    expect(r.devices.map((d) => d.id)).toEqual(['ttyUSB0', 'ttyUSB1']);
    expect(r.watchDirs).toEqual([tmp]);
  });
});

describe('CDI spec', () => {
  it('is written atomically per resource, and removed when there are no devices', async () => {
    const cdiDir = join(tmp, 'cdi');
    const w = new CdiWriter(cdiDir);
    const res = resource({ devices: [{ path: '/dev/nvidia0' }], deviceNodes: ['/dev/nvidiactl'], env: { A: 'b' } });
    await w.write(res, [{ id: 'nvidia0', nodes: ['/dev/nvidia0'], usable: true }]);
    const path = cdiSpecPath(cdiDir, 'nvidia.com/gpu');
    expect(path).toBe(join(cdiDir, 'hostplane-nvidia.com_gpu.json'));
    const spec = JSON.parse(readFileSync(path, 'utf8'));
    expect(spec).toEqual({
      cdiVersion: '0.6.0',
      kind: 'nvidia.com/gpu',
      devices: [{ name: 'nvidia0', containerEdits: { deviceNodes: [{ path: '/dev/nvidia0', permissions: 'rw' }] } }],
      containerEdits: { env: ['A=b'], deviceNodes: [{ path: '/dev/nvidiactl', hostPath: '/dev/nvidiactl', permissions: 'rw' }] },
    });
    await w.write(res, []);
    expect(existsSync(path)).toBe(false);
  });
});
