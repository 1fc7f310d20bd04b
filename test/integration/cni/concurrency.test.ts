// Many short-lived plugin processes at once: no duplicate address, no lost
// lease, and a SIGKILLed ADD wedges nobody.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { hostVethName } from '../../../cni/net/veth.ts';
import { ids } from '../../../cni/net/masq.ts';
import { join } from 'node:path';
import { ensureBuilt, runPlugin, Sandbox, cniEnv, PLUGIN, ping } from './helpers.ts';

const sb = new Sandbox('hpc');
const bridge = sb.bridge();
beforeAll(() => ensureBuilt());
afterAll(() => sb.cleanup());

const conf = {
  cniVersion: '1.1.0',
  name: `${sb.tag}-net`,
  type: 'hostplane',
  bridge,
  isGateway: true,
  ipam: { type: 'hostplane', subnet: '10.213.0.0/24', dataDir: sb.dataDir },
};
const leases = () => sb.leases(conf.name);
const N = 30;

describe('parallel ADD', () => {
  it(`${N} parallel ADDs of the built binary into separate netns get ${N} distinct addresses (bridge created by the race winner)`, async () => {
    const nss = Array.from({ length: N }, (_, i) => sb.netns(i));
    const rs = await Promise.all(nss.map((ns, i) => runPlugin('ADD', conf, { containerId: `${sb.tag}-${i}`, netns: ns })));
    for (const r of rs) expect(r.code, r.stdout + r.stderr).toBe(0);
    const addrs = rs.map((r) => (r.out!.ips as { address: string }[])[0]!.address);
    expect(new Set(addrs).size).toBe(N);
    expect(leases()).toHaveLength(N);
    expect(ping(nss[0]!, addrs[N - 1]!.split('/')[0]!)).toBe(true);
    const ds = await Promise.all(nss.map((ns, i) => runPlugin('DEL', conf, { containerId: `${sb.tag}-${i}`, netns: ns })));
    for (const d of ds) expect(d.code, d.stdout).toBe(0);
    expect(leases()).toEqual([]);
  });

  it('an ADD killed with SIGKILL mid-way does not wedge later ADDs; GC releases what it left', async () => {
    // Each victim is stopped at a known point of its work and SIGKILLed
    // there. Links are made over netlink (no exec), so the stop is the one
    // host tool an ADD still runs: `nft` for the masquerade, after the lease
    // is taken and both veth ends are in place. A shim `nft` on the victims'
    // PATH marks the moment and waits. So what GC must clean up is known to
    // exist, not hoped for, however loaded the machine.
    const shimDir = join(sb.dataDir, 'shim');
    mkdirSync(shimDir);
    writeFileSync(join(shimDir, 'nft'), ['#!/bin/sh', 'echo $$ > "$HP_MARK.tmp"; mv "$HP_MARK.tmp" "$HP_MARK"; exec sleep 60', ''].join('\n'), { mode: 0o755 });
    const victimConf = { ...conf, ipMasq: true };
    sb.nft(ids(conf.name).chain);
    const victims = [0, 1, 2, 3, 4].map((i) => ({ ns: sb.netns(`k${i}`), id: `${sb.tag}-k${i}` }));
    const leaseOf = (id: string) =>
      leases().find((f) => {
        try {
          return readFileSync(join(sb.dataDir, conf.name, f), 'utf8').startsWith(`${id}\r\n`);
        } catch {
          return false;
        }
      });
    const vethOf = (id: string) => existsSync(`/sys/class/net/${hostVethName(id, 'eth0')}`);
    await Promise.all(
      victims.map(
        ({ ns, id }) =>
          new Promise<void>((resolve, reject) => {
            const mark = join(sb.dataDir, `stalled-${id}`);
            const env = { ...cniEnv('ADD', { containerId: id, netns: ns }), PATH: shimDir, HP_MARK: mark };
            const p = spawn(PLUGIN, [], { env, stdio: ['pipe', 'ignore', 'ignore'] });
            p.stdin.end(JSON.stringify(victimConf));
            const poll = setInterval(() => {
              if (!existsSync(mark)) return;
              clearInterval(poll);
              p.kill('SIGKILL');
              try {
                process.kill(Number(readFileSync(mark, 'utf8')), 'SIGKILL');
              } catch {
                /* already gone */
              }
            }, 5);
            p.on('close', (_code, signal) => {
              clearInterval(poll);
              if (signal !== 'SIGKILL') reject(new Error(`victim ${id} ended (${_code}) without reaching its nft call`));
              else resolve();
            });
          }),
      ),
    );
    // Every victim left its lease and its host veth.
    for (const v of victims) {
      expect(leaseOf(v.id), `victim ${v.id} lease`).toBeDefined();
      expect(vethOf(v.id), `victim ${v.id} veth`).toBe(true);
    }

    const ns = sb.netns('after');
    const after = await runPlugin('ADD', conf, { containerId: `${sb.tag}-after`, netns: ns });
    expect(after.code, after.stdout).toBe(0);
    const gc = await runPlugin('GC', { ...conf, 'cni.dev/valid-attachments': [{ containerID: `${sb.tag}-after`, ifname: 'eth0' }] });
    expect(gc.code, gc.stdout).toBe(0);
    expect(leases()).toEqual([(after.out!.ips as { address: string }[])[0]!.address.split('/')[0]]);
    for (const v of victims) expect(vethOf(v.id), `victim ${v.id} veth after GC`).toBe(false);
    expect(readdirSync(`/sys/class/net/${bridge}/brif`)).toHaveLength(1);
    expect((await runPlugin('DEL', conf, { containerId: `${sb.tag}-after`, netns: ns })).code).toBe(0);
  });
});
