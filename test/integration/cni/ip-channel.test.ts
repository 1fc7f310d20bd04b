// The agent's persistent `ip -batch` channel on the real kernel: one process
// for many groups, failures attributed to the right group, an existing bridge
// tolerated, and a dead process replaced.
import { describe, it, expect, afterAll } from 'vitest';
import { existsSync } from 'node:fs';
import { IpChannel } from '../../../cni/net/ip-channel.ts';
import { SpawnExec } from '../../../cni/spawn-exec.ts';
import { sh } from './helpers.ts';

const tag = `hpi${process.pid % 1000}`;
const ch = new IpChannel(new SpawnExec());
sh('ip', ['netns', 'add', tag]);
afterAll(() => {
  ch.close();
  sh('ip', ['netns', 'del', tag]);
  for (const l of [`${tag}a`, `${tag}b`, `${tag}br`]) sh('ip', ['link', 'del', l]);
});

describe('IpChannel', () => {
  it('runs concurrent groups in one process and attributes a failure to its own group only', async () => {
    const [ok, bad, forced] = await Promise.allSettled([
      ch.apply([
        { op: 'bridge-add', name: `${tag}br`, mtu: 1500, mac: '02:00:00:00:00:09' },
        { op: 'link-set', dev: `${tag}br`, up: true },
      ]),
      ch.apply([{ op: 'link-set', dev: `${tag}nope`, up: true }]),
      ch.applyForce([
        { op: 'link-set', dev: `${tag}nope2`, up: true },
        { op: 'link-set', dev: `${tag}br`, up: true },
      ]),
    ]);
    expect(ok.status).toBe('fulfilled');
    expect(bad.status).toBe('rejected');
    expect(String((bad as PromiseRejectedResult).reason)).toContain(`${tag}nope`);
    expect(forced.status).toBe('fulfilled');
    expect((forced as PromiseFulfilledResult<{ exitCode: number; stderr: string } | undefined>).value).toMatchObject({
      exitCode: 1,
      stderr: expect.stringContaining(`${tag}nope2`),
    });
    expect(existsSync(`/sys/class/net/${tag}br/bridge`)).toBe(true);
    expect(ch.starts).toBe(1);
  });
  it('a bridge-add of a bridge that exists (created by a concurrent request) is not a failure', async () => {
    await expect(ch.apply([{ op: 'bridge-add', name: `${tag}br`, mtu: 1500, mac: '02:00:00:00:00:09' }])).resolves.toMatchObject({ exitCode: 0 });
  });
  it('a veth group: created, enslaved and up in one round trip', async () => {
    await ch.apply([
      { op: 'link-set', dev: `${tag}br`, up: true },
      {
        op: 'veth-add',
        name: `${tag}a`,
        mtu: 1400,
        master: `${tag}br`,
        peer: { name: `${tag}b`, mac: '02:00:00:00:00:0a', mtu: 1400, netns: `/var/run/netns/${tag}` },
      },
      { op: 'bridge-port', dev: `${tag}a`, hairpin: true },
      { op: 'link-set', dev: `${tag}a`, up: true },
    ]);
    expect(sh('cat', [`/sys/class/net/${tag}a/brport/hairpin_mode`]).stdout.trim()).toBe('1');
    await ch.apply([{ op: 'link-del', dev: `${tag}a` }]);
    expect(existsSync(`/sys/class/net/${tag}a`)).toBe(false);
  });
  it('a line that makes ip exit fails only its own group; a concurrent group is re-run in a new process', async () => {
    const [bad, good] = await Promise.allSettled([
      ch.apply([
        {
          op: 'veth-add',
          name: `${tag}a`,
          mtu: 1400,
          master: `${tag}br`,
          peer: { name: `${tag}b`, mac: '02:00:00:00:00:0a', mtu: 1400, netns: '/nonexistent/ns' },
        },
      ]),
      ch.apply([{ op: 'link-set', dev: `${tag}br`, up: true }]),
    ]);
    expect(bad.status).toBe('rejected');
    expect(String((bad as PromiseRejectedResult).reason)).toMatch(/netns/);
    expect(good.status).toBe('fulfilled');
    expect(ch.starts).toBe(2);
  });
  it('a killed ip process fails its pending groups and is replaced on the next call', async () => {
    const pid = Number(sh('pgrep', ['-f', '-n', 'ip -force -batch -']).stdout.trim());
    expect(pid).toBeGreaterThan(0);
    process.kill(pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 100));
    await expect(ch.apply([{ op: 'link-set', dev: `${tag}br`, up: true }])).resolves.toMatchObject({ exitCode: 0 });
    expect(ch.starts).toBe(3);
  });
});
