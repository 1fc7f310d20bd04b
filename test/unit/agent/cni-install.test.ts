import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, statSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { installBinary, installConflist } from '../../../agent/cni/install.ts';
import { buildConflist, normalizeCidrs } from '../../../agent/cni/conflist.ts';
import { validateConfig } from '../../../agent/config.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hp-agent-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('installBinary', () => {
  it('copies the executable with mode 0755 and leaves no temp file', async () => {
    writeFileSync(join(dir, 'src'), 'v1');
    expect(await installBinary(join(dir, 'src'), join(dir, 'bin'), 'hostplane')).toBe('installed');
    expect(readFileSync(join(dir, 'bin', 'hostplane'), 'utf8')).toBe('v1');
    expect(statSync(join(dir, 'bin', 'hostplane')).mode & 0o777).toBe(0o755);
    expect(readdirSync(join(dir, 'bin'))).toEqual(['hostplane']);
  });

  it('skips the copy when the content is unchanged', async () => {
    writeFileSync(join(dir, 'src'), 'v1');
    await installBinary(join(dir, 'src'), join(dir, 'bin'), 'hostplane');
    const ino = statSync(join(dir, 'bin', 'hostplane')).ino;
    expect(await installBinary(join(dir, 'src'), join(dir, 'bin'), 'hostplane')).toBe('unchanged');
    expect(statSync(join(dir, 'bin', 'hostplane')).ino).toBe(ino);
  });

  it('replaces a changed binary by rename (a new inode, never written in place)', async () => {
    writeFileSync(join(dir, 'src'), 'v1');
    await installBinary(join(dir, 'src'), join(dir, 'bin'), 'hostplane');
    const ino = statSync(join(dir, 'bin', 'hostplane')).ino;
    writeFileSync(join(dir, 'src'), 'v2');
    expect(await installBinary(join(dir, 'src'), join(dir, 'bin'), 'hostplane')).toBe('installed');
    expect(readFileSync(join(dir, 'bin', 'hostplane'), 'utf8')).toBe('v2');
    expect(statSync(join(dir, 'bin', 'hostplane')).ino).not.toBe(ino);
  });

  it('compares large binaries chunk by chunk: a same-size file differing only in its last byte is replaced', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 17, 0x5a);
    writeFileSync(join(dir, 'src'), big);
    expect(await installBinary(join(dir, 'src'), join(dir, 'bin'), 'hostplane')).toBe('installed');
    expect(await installBinary(join(dir, 'src'), join(dir, 'bin'), 'hostplane')).toBe('unchanged');
    big[big.length - 1] = 0x5b;
    writeFileSync(join(dir, 'src'), big);
    expect(await installBinary(join(dir, 'src'), join(dir, 'bin'), 'hostplane')).toBe('installed');
    expect(readFileSync(join(dir, 'bin', 'hostplane')).equals(big)).toBe(true);
  });

  it('reports a missing source', async () => {
    expect(await installBinary(join(dir, 'nope'), join(dir, 'bin'))).toBe('missing');
  });
});

describe('installConflist', () => {
  it('writes once and reports unchanged for the same text', async () => {
    const p = join(dir, 'net.d', '10-hostplane.conflist');
    expect(await installConflist(p, '{}\n')).toBe('installed');
    expect(await installConflist(p, '{}\n')).toBe('unchanged');
    expect(await installConflist(p, '{"a":1}\n')).toBe('installed');
    expect(readFileSync(p, 'utf8')).toBe('{"a":1}\n');
  });
});

describe('buildConflist', () => {
  const cfg = validateConfig({ cni: { podCIDRs: ['10.0.0.0/24'], mtu: 1450 }, devicePlugin: { enabled: false } }, 'x', { NODE_NAME: 'n' }, '/d').cni;

  it('has one IPAM range set per pod CIDR and portmap after hostplane', () => {
    const c = JSON.parse(buildConflist(cfg, ['10.244.1.0/24', 'fd00::/64']));
    expect(c.cniVersion).toBe('1.0.0');
    expect(c.name).toBe('hostplane');
    expect(c.plugins.map((p: { type: string }) => p.type)).toEqual(['hostplane', 'portmap']);
    expect(c.plugins[0]).toMatchObject({ bridge: 'hp0', isGateway: true, isDefaultGateway: true, ipMasq: true, mtu: 1450, hairpinMode: true });
    expect(c.plugins[0].ipam).toEqual({
      type: 'hostplane',
      ranges: [[{ subnet: '10.244.1.0/24' }], [{ subnet: 'fd00::/64' }]],
      dataDir: '/var/lib/hostplane/ipam',
    });
    expect(c.plugins[1].capabilities).toEqual({ portMappings: true });
  });

  it('puts cni.routes in the IPAM config (no default route, the cluster still reachable)', () => {
    const routed = validateConfig(
      { cni: { podCIDRs: ['10.0.0.0/24'], isDefaultGateway: false, routes: ['10.0.0.0/16', 'fd00::/48'] }, devicePlugin: { enabled: false } },
      'x',
      { NODE_NAME: 'n' },
      '/d',
    ).cni;
    const c = JSON.parse(buildConflist(routed, ['10.0.1.0/24']));
    expect(c.plugins[0].isDefaultGateway).toBe(false);
    expect(c.plugins[0].ipam.routes).toEqual([{ dst: '10.0.0.0/16' }, { dst: 'fd00::/48' }]);
    expect(() =>
      validateConfig({ cni: { podCIDRs: ['10.0.0.0/24'], routes: ['10.0.0.0/33'] }, devicePlugin: { enabled: false } }, 'x', { NODE_NAME: 'n' }, '/d'),
    ).toThrow(/cni\.routes/);
  });

  it('omits portmap when disabled', () => {
    const c = JSON.parse(buildConflist({ ...cfg, portmap: false }, ['10.0.0.0/24']));
    expect(c.plugins).toHaveLength(1);
  });

  it('orders IPv4 before IPv6 and drops duplicates', () => {
    expect(normalizeCidrs(['fd00::/64', '10.0.0.0/24', '10.0.0.0/24'])).toEqual(['10.0.0.0/24', 'fd00::/64']);
  });
});

describe('CniController.sync', () => {
  it('a conflist write that fails is logged and retried, never thrown (it runs from a timer: a rejection would end the agent)', async () => {
    const { CniController } = await import('../../../agent/cni/controller.ts');
    const { mkdtempSync: mk, writeFileSync: wf, rmSync: rm, readFileSync: rf } = await import('node:fs');
    const { join: j } = await import('node:path');
    const { tmpdir: td } = await import('node:os');
    const dir = mk(j(td(), 'hp-cni-sync-'));
    try {
      wf(j(dir, 'net.d'), 'a file where the conf dir should be');
      const warnings: unknown[] = [];
      const log = {
        info: () => {},
        warn: (o: unknown) => warnings.push(o),
        error: () => {},
        debug: () => {},
      } as unknown as import('../../../lib/logging.ts').Logger;
      const cfg = validateConfig(
        { cni: { podCIDRs: ['10.0.0.0/24'], confDir: j(dir, 'net.d') }, devicePlugin: { enabled: false } },
        'x',
        { NODE_NAME: 'n' },
        '/d',
      ).cni;
      const c = new CniController({ cfg, nodeName: 'n', log });
      await expect(c.sync()).resolves.toBeUndefined();
      expect(c.isReady()).toBe(false);
      expect(warnings).toHaveLength(1);
      rm(j(dir, 'net.d'));
      const { mkdirSync } = await import('node:fs');
      mkdirSync(j(dir, 'net.d'));
      await c.sync();
      expect(c.isReady()).toBe(true);
      expect(JSON.parse(rf(j(dir, 'net.d', '10-hostplane.conflist'), 'utf8')).plugins[0].ipam.ranges).toEqual([[{ subnet: '10.0.0.0/24' }]]);
    } finally {
      rm(dir, { recursive: true, force: true });
    }
  });
});
