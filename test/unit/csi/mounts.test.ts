import { describe, it, expect } from 'vitest';
import { parseMountinfo } from '../../../csi/volumes/mounts.ts';

describe('parseMountinfo', () => {
  it('reads target, source, type and unescapes octal escapes', () => {
    const text = [
      '22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw',
      '90 22 7:0 / /var/lib/kubelet/pods/x/vol\\040a rw,noatime shared:50 - ext4 /dev/loop0 rw',
      '91 22 0:5 /loop0 /tmp/target rw shared:2 - devtmpfs udev rw',
    ].join('\n');
    const m = parseMountinfo(text);
    expect(m).toHaveLength(3);
    expect(m[1]).toEqual({ root: '/', target: '/var/lib/kubelet/pods/x/vol a', options: ['rw', 'noatime'], fsType: 'ext4', source: '/dev/loop0' });
    expect(m[2]!.root).toBe('/loop0');
  });
});
