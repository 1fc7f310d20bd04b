import { describe, it, expect } from 'vitest';
import { validateConfig, parseConfigText, DeviceConfigError } from '../../../device-plugin/config.ts';

const ok = { resources: [{ name: 'hostplane.dev/fuse', devices: [{ path: '/dev/fuse' }] }] };

describe('validateConfig', () => {
  it('fills defaults: rw permissions, ids env, one replica, CDI on', () => {
    const c = validateConfig(ok);
    expect(c.resources[0]).toMatchObject({ name: 'hostplane.dev/fuse', permissions: 'rw', idsEnv: 'HOSTPLANE_FUSE_DEVICES', replicas: 1, cdi: true });
    expect(c.resources[0]!.discovery).toEqual([{ kind: 'path', glob: '/dev/fuse' }]);
    expect(c.rescanIntervalMs).toBe(10_000);
  });

  it('parses PCI and USB rules with hex ids', () => {
    const c = validateConfig({
      resources: [
        {
          name: 'nvidia.com/gpu',
          devices: [{ pci: { vendor: '0x10de', class: ['0x0300', '0x0302'], deviceNodes: '/dev/nvidia[0-9]*' } }, { usb: { vendor: '0403', product: '6001' } }],
        },
      ],
    });
    expect(c.resources[0]!.discovery).toEqual([
      { kind: 'pci', vendor: 0x10de, classes: ['0300', '0302'], deviceNodes: '/dev/nvidia[0-9]*' },
      { kind: 'usb', vendor: 0x0403, product: 0x6001 },
    ]);
  });

  it.each([
    [{ resources: [ok.resources[0], { name: 'fuse', devices: [{ path: '/dev/fuse' }] }] }, 'resources[1].name: must be vendor.domain/resource'],
    [{ resources: [{ name: 'example/fuse', devices: [{ path: '/dev/fuse' }] }] }, 'resources[0].name: must be vendor.domain/resource'],
    [{ resources: [{ name: 'a.b/c', devices: [] }] }, 'resources[0].devices: must list at least one'],
    [{ resources: [{ name: 'a.b/c', devices: [{ path: 'dev/fuse' }] }] }, 'resources[0].devices[0].path: must be an absolute path'],
    [{ resources: [{ name: 'a.b/c', devices: [{ pci: { vendor: 'zz' } }] }] }, 'resources[0].devices[0].pci.vendor: must be a hex string'],
    [
      { resources: [{ name: 'a.b/c', devices: [{ pci: { vendor: '10de', class: '030' } }] }] },
      'resources[0].devices[0].pci.class[0]: must be 2, 4 or 6 hex digits',
    ],
    [{ resources: [{ name: 'a.b/c', devices: [{ usb: {} }] }] }, 'resources[0].devices[0].usb.vendor: is required'],
    [{ resources: [{ name: 'a.b/c', devices: [{ scsi: 1 }] }] }, 'resources[0].devices[0].scsi: unknown rule'],
    [{ resources: [{ name: 'a.b/c', devices: [{ path: '/x', pci: {} }] }] }, 'resources[0].devices[0]: must have exactly one of path, pci, usb'],
    [{ resources: [{ name: 'a.b/c', devices: [{ path: '/x' }], permissions: 'wr' }] }, 'resources[0].permissions: must be a combination of r, w, m'],
    [
      { resources: [{ name: 'a.b/c', devices: [{ path: '/x' }], sharing: { replicas: 0 } }] },
      'resources[0].sharing.replicas: must be an integer from 1 to 1000',
    ],
    [
      { resources: [{ name: 'a.b/c', devices: [{ path: '/x' }], env: { 'BAD-NAME': 'x' } }] },
      'resources[0].env.BAD-NAME: must be an environment variable name',
    ],
    [
      { resources: [{ name: 'a.b/c', devices: [{ path: '/x' }], mounts: [{ hostPath: '/a', containerPath: 'b' }] }] },
      'resources[0].mounts[0].containerPath: must be an absolute path',
    ],
    [{ resources: [{ name: 'a.b/c', devices: [{ path: '/x' }], colour: 'red' }] }, 'resources[0].colour: unknown field'],
    [{ resources: [ok.resources[0], ok.resources[0]] }, 'resources[1].name: duplicate resource hostplane.dev/fuse'],
    [{ resources: [], rescanIntervalSeconds: -1 }, 'rescanIntervalSeconds: must be a number'],
  ])('rejects a bad field by name (%#)', (raw, msg) => {
    expect(() => validateConfig(raw)).toThrow(DeviceConfigError);
    expect(() => validateConfig(raw)).toThrow(msg);
  });
});

describe('parseConfigText', () => {
  it('reads YAML and JSON alike', () => {
    const y = parseConfigText('resources:\n  - name: hostplane.dev/kvm\n    devices:\n      - path: /dev/kvm\n', 'c.yaml');
    const j = parseConfigText(JSON.stringify({ resources: [{ name: 'hostplane.dev/kvm', devices: [{ path: '/dev/kvm' }] }] }), 'c.json');
    expect(y).toEqual(j);
  });

  it('names the file in parse errors', () => {
    expect(() => parseConfigText('resources: [', 'bad.yaml')).toThrow(/^bad\.yaml: not valid YAML/);
    expect(() => parseConfigText('resources: [{name: x}]', 'bad.yaml')).toThrow('bad.yaml: resources[0].name: must be vendor.domain/resource');
  });
});
