// Many short-lived plugin processes at once: no duplicate address, no lost
// lease, and a SIGKILLed ADD wedges nobody.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { hostVethName } from '../../../cni/net/veth.ts';
import { join } from 'node:path';
import { ensureBuilt, runPlugin, Sandbox, cniEnv, PLUGIN, ping } from './helpers.ts';

const sb = new Sandbox('hpc');
const bridge = sb.bridge();
beforeAll(() => ensureBuilt());
afterAll(() => sb.cleanup());

const conf = {
  cniVersion: '1.1.0', name: `${sb.tag}-net`, type: 'hostplane', bridge, isGateway: true,
  ipam: { type: 'hostplane', subnet: '10.213.0.0/24', dataDir: sb.dataDir },
};
const leases = () => readdirSync(join(sb.dataDir, conf.name)).filter((f) => !f.startsWith('.'));
const N = 30;
const REAL_IP = execFileSync('sh', ['-c', 'command -v ip'], { encoding: 'utf8' }).trim();

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
    // there: `ip` on its PATH is a shim that, for the victim's chosen call,
    // marks the moment and waits. The first victims die in the host batch
    // (lease taken, veth maybe half made), the others in the netns batch
    // (lease and host veth in place). So what GC must clean up is known to
    // exist, not hoped for, however loaded the machine.
    const shimDir = join(sb.dataDir, 'shim');
    mkdirSync(shimDir);
    writeFileSync(join(shimDir, 'ip'), [
      '#!/bin/sh',
      'case " $* " in *" -n "*) call=netns ;; *) call=host ;; esac',
      'if [ "$call" = "$HP_STALL" ]; then echo $$ > "$HP_MARK.tmp"; mv "$HP_MARK.tmp" "$HP_MARK"; exec sleep 60; fi',
      `exec ${REAL_IP} "$@"`,
      '',
    ].join('\n'), { mode: 0o755 });
    const victims = [0, 1, 2, 3, 4].map((i) => ({ ns: sb.netns(`k${i}`), id: `${sb.tag}-k${i}`, stall: i < 2 ? 'host' as const : 'netns' as const }));
    const leaseOf = (id: string) => leases().find((f) => { try { return readFileSync(join(sb.dataDir, conf.name, f), 'utf8').startsWith(`${id}\r\n`); } catch { return false; } });
    const vethOf = (id: string) => existsSync(`/sys/class/net/${hostVethName(id, 'eth0')}`);
    await Promise.all(victims.map(({ ns, id, stall }) => new Promise<void>((resolve, reject) => {
      const mark = join(sb.dataDir, `stalled-${id}`);
      const env = { ...cniEnv('ADD', { containerId: id, netns: ns }), PATH: shimDir, HP_STALL: stall, HP_MARK: mark };
      const p = spawn(PLUGIN, [], { env, stdio: ['pipe', 'ignore', 'ignore'] });
      p.stdin.end(JSON.stringify(conf));
      const poll = setInterval(() => {
        if (!existsSync(mark)) return;
        clearInterval(poll);
        p.kill('SIGKILL');
        try { process.kill(Number(readFileSync(mark, 'utf8')), 'SIGKILL'); } catch { /* already gone */ }
      }, 5);
      p.on('close', (_code, signal) => {
        clearInterval(poll);
        if (signal !== 'SIGKILL') reject(new Error(`victim ${id} ended (${_code}) without reaching its ${stall} batch`));
        else resolve();
      });
    })));
    // Every victim left its lease; those stopped in the netns batch their host veth too.
    for (const v of victims) {
      expect(leaseOf(v.id), `victim ${v.id} lease`).toBeDefined();
      if (v.stall === 'netns') expect(vethOf(v.id), `victim ${v.id} veth`).toBe(true);
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
