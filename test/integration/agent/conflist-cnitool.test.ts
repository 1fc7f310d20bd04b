// The conflist the agent writes, used for real: cnitool (libcni, like a
// runtime) ADDs a throwaway netns through the installed dist/cni/hostplane and
// the reference portmap; the pod gets an address from the configured CIDR.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { validateConfig } from '../../../agent/config.ts';
import { startAgent, type RunningAgent } from '../../../agent/agent.ts';
import { AgentMetrics } from '../../../agent/metrics.ts';
import { silentLogger } from '../../../lib/logging.ts';
import { fakeComponents } from './fakes.ts';
import { ids, TABLE } from '../../../cni/net/masq.ts';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const tag = `hpa${process.pid % 100000}`;
const netns = `${tag}-ns`;
let dir: string;
let agent: RunningAgent | undefined;

beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist', 'cni', 'hostplane'))) execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' });
  dir = mkdtempSync(join(tmpdir(), 'hp-agent-cni-'));
  execFileSync('ip', ['netns', 'add', netns]);
});
afterAll(async () => {
  await agent?.stop();
  const quiet = (f: string, a: string[]) => {
    try {
      execFileSync(f, a, { stdio: 'ignore' });
    } catch {
      /* already gone */
    }
  };
  quiet('ip', ['netns', 'del', netns]);
  quiet('ip', ['link', 'del', tag]);
  // What the plugin made for this network (ipMasq is on by default): its
  // chain and address sets in the shared table, and the table itself when
  // nothing else is left in it (other tests may hold chains there).
  const { chain, set4, set6 } = ids(tag);
  quiet('nft', ['delete', 'chain', ...TABLE.split(' '), chain]);
  for (const set of [set4, set6]) quiet('nft', ['delete', 'set', ...TABLE.split(' '), set]);
  const rest = spawnSync('nft', ['list', 'table', ...TABLE.split(' ')], { encoding: 'utf8' }).stdout;
  if (rest && !/\b(chain|set) /.test(rest)) quiet('nft', ['delete', 'table', ...TABLE.split(' ')]);
  rmSync(dir, { recursive: true, force: true });
  const left = spawnSync('nft', ['list', 'table', ...TABLE.split(' ')], { encoding: 'utf8' }).stdout ?? '';
  if (left.includes(chain) || left.includes(set4)) throw new Error(`nft objects of network ${tag} left behind:\n${left}`);
});

describe('agent-written conflist with the real plugins', () => {
  it('cnitool ADD gives the pod an address in the pod CIDR; DEL succeeds', async () => {
    const cfg = validateConfig(
      {
        nodeName: 'n1',
        http: { address: '127.0.0.1', port: 0 },
        cni: {
          binarySource: join(ROOT, 'dist', 'cni', 'hostplane'),
          binDir: join(dir, 'bin'),
          confDir: join(dir, 'net.d'),
          networkName: tag,
          bridge: tag,
          ipamDataDir: join(dir, 'ipam'),
          podCIDRs: ['10.211.7.0/24'],
          // Its own CNI server socket: cnitool's calls go through this agent.
          server: { socket: join(dir, 'run', 'cni.sock') },
        },
        csi: { enabled: false },
        devicePlugin: { enabled: false },
      },
      'test',
      {},
      dir,
    );
    agent = await startAgent(cfg, { log: silentLogger(), components: fakeComponents().components, metrics: new AgentMetrics({ defaultMetrics: false }) });
    const env = { ...process.env, NETCONFPATH: join(dir, 'net.d'), CNI_PATH: `${join(dir, 'bin')}:/usr/lib/cni` };
    const res = JSON.parse(execFileSync('cnitool', ['add', tag, `/var/run/netns/${netns}`], { env, encoding: 'utf8' }));
    expect(res.ips[0].address).toMatch(/^10\.211\.7\.\d+\/24$/);
    const inside = execFileSync('ip', ['-n', netns, '-4', 'addr', 'show', 'eth0'], { encoding: 'utf8' });
    expect(inside).toContain(res.ips[0].address);
    execFileSync('cnitool', ['del', tag, `/var/run/netns/${netns}`], { env, stdio: 'ignore' });
  });
});
