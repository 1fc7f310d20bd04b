// The CO's mount options as mount(2) takes them (csi/volumes/mount-flags.ts):
// what the helper's syscall path sends to the kernel instead of mount(8).
import { describe, it, expect } from 'vitest';
import { mountFlagsOf, UnsupportedMountOption } from '../../../csi/volumes/mount-flags.ts';

const MS_RDONLY = 1,
  MS_NOSUID = 2,
  MS_NODEV = 4,
  MS_NOEXEC = 8,
  MS_NOATIME = 1024;

describe('mountFlagsOf', () => {
  it('per-mount words become MS_* bits, filesystem options the data string in order', () => {
    expect(mountFlagsOf(['noatime', 'nodev', 'data=ordered', 'errors=remount-ro'])).toEqual({
      flags: MS_NOATIME | MS_NODEV,
      data: 'data=ordered,errors=remount-ro',
    });
  });
  it('a later word wins over an earlier one, as in mount(8)', () => {
    expect(mountFlagsOf(['ro', 'rw']).flags).toBe(0);
    expect(mountFlagsOf(['rw', 'ro', 'noexec', 'exec', 'nosuid']).flags).toBe(MS_RDONLY | MS_NOSUID);
    expect(mountFlagsOf(['noexec']).flags).toBe(MS_NOEXEC);
  });
  it('fstab-only words are dropped, as mount(8) drops them', () => {
    expect(mountFlagsOf(['defaults', 'nofail', '_netdev', 'x-systemd.automount', 'comment=x', ''])).toEqual({ flags: 0, data: '' });
  });
  it.each(['user', 'users', 'owner', 'loop', 'loop=/dev/loop0', 'offset=512', 'helper=foo', 'bind', 'remount'])(
    '%s is mount(8)-only: declined so mount(8) does it',
    (o) => expect(() => mountFlagsOf(['noatime', o])).toThrow(UnsupportedMountOption),
  );
  it('the refusal names the option by position, never by its text (options can carry secrets)', () => {
    const e = (() => {
      try {
        mountFlagsOf(['password=s3cret', 'user']);
      } catch (x) {
        return x as Error;
      }
    })();
    expect(e?.message).toBe('mount option #2 is handled by mount(8) only');
  });
});
