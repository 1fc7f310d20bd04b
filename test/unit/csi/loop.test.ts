// Parsing what losetup and stat say about a loop device's backing file: the
// identity (inode, device) the driver matches on, whatever path is shown.
import { describe, it, expect } from 'vitest';
import { devString, parseLosetup, sameFile } from '../../../csi/volumes/loop.ts';

describe('parseLosetup', () => {
  it('reads name, shown path, inode and major:minor (util-linux pads the latter with spaces)', () => {
    const out = `{"loopdevices": [
      {"name": "/dev/loop0", "back-file": "/images/v-abc.img", "back-ino": 10299749, "back-maj:min": "     254:0  "},
      {"name": "/dev/loop3", "back-file": "/x/e-1.img (deleted)", "back-ino": 18446744073709551557, "back-maj:min": "8:1"}
    ]}`;
    expect(parseLosetup(out)).toEqual([
      { device: '/dev/loop0', backingFile: '/images/v-abc.img', backing: { ino: '10299749', dev: '254:0' } },
      // Inodes beyond 2^53 keep every digit; " (deleted)" is not part of the name.
      { device: '/dev/loop3', backingFile: '/x/e-1.img', backing: { ino: '18446744073709551557', dev: '8:1' } },
    ]);
  });
  it('no devices: empty output or an empty list', () => {
    expect(parseLosetup('')).toEqual([]);
    expect(parseLosetup('{"loopdevices": []}')).toEqual([]);
  });
});

// glibc's makedev: the major and minor are split across the 64 bits.
const makedev = (ma: bigint, mi: bigint) => ((ma & 0xfffn) << 8n) | ((ma & 0xfffff000n) << 32n) | (mi & 0xffn) | ((mi & 0xffffff00n) << 12n);

describe('devString', () => {
  it.each([
    [0xfe00n, '254:0'],
    [0x801n, '8:1'],
    [makedev(0x123456n, 0x9abcden), `${0x123456}:${0x9abcde}`],
  ])('%s → %s', (dev, want) => expect(devString(dev)).toBe(want));
});

describe('sameFile', () => {
  it('needs both sides and equal inode and device', () => {
    expect(sameFile({ ino: '1', dev: '8:1' }, { ino: '1', dev: '8:1' })).toBe(true);
    expect(sameFile({ ino: '1', dev: '8:1' }, { ino: '1', dev: '8:2' })).toBe(false);
    expect(sameFile(undefined, { ino: '1', dev: '8:1' })).toBe(false);
  });
});
