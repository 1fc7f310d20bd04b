// CNI ADD/DEL latency: hostplane through the agent (the executable forwards to
// the agent's CNI server), hostplane standalone (no agent: the work in-process)
// and the reference bridge + host-local plugins v1.10.0, interleaved in one run
// with the same config shape (isGateway, isDefaultGateway, IPv4 /16, ipMasq
// off); then the wall time of 50 parallel ADDs of each. Every sample is a
// fresh attachment in a netns of its own (rotating over 50), as pods are.
// npm run bench (test/bench/run.ts) writes its output into test/bench/README.md.
//   node test/bench/cni.ts [iterations]     (npm run bench -- cni)
import { spawnSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir, loadavg, cpus } from 'node:os';
import { percentile, median } from './stats.ts';
import { AgentProcess, eventually } from '../integration/cni/agent-process.ts';
import { REF_DIR } from '../integration/cni/helpers.ts';

const root = join(import.meta.dirname, '..', '..');
const HP = join(root, 'dist', 'cni', 'hostplane');
const REF = join(REF_DIR, 'bridge');
const N = Number(process.argv[2] ?? 120);
const PAR = 50;
const ROUNDS = 5;
const tag = `hb${process.pid % 10000}`;

if (!existsSync(HP)) {
  console.error('dist/cni/hostplane missing: run npm run build first');
  process.exit(2);
}
if (!existsSync(REF)) {
  console.error(`${REF} missing: run scripts/setup.sh (reference CNI plugins v1.10.0)`);
  process.exit(2);
}

type Kind = 'agent' | 'solo' | 'ref';
const KINDS: Kind[] = ['agent', 'solo', 'ref'];
const data = mkdtempSync(join(tmpdir(), 'hp-bench-'));
const bridges: Record<Kind, string> = { agent: `${tag}a`, solo: `${tag}s`, ref: `${tag}r` };
const subnets: Record<Kind, string> = { agent: '10.231.0.0/16', solo: '10.233.0.0/16', ref: '10.232.0.0/16' };
const agent = new AgentProcess({ ipamDirs: [data], bridge: bridges.agent });
const confOf = (k: Kind) =>
  JSON.stringify({
    cniVersion: '1.1.0',
    name: `${tag}-${k}`,
    type: k === 'ref' ? 'bridge' : 'hostplane',
    bridge: bridges[k],
    isGateway: true,
    isDefaultGateway: true,
    ipMasq: false,
    hairpinMode: true,
    ...(k === 'ref' ? {} : { agentSocket: k === 'agent' ? agent.socket : '' }),
    ipam: { type: k === 'ref' ? 'host-local' : 'hostplane', ranges: [[{ subnet: subnets[k] }]], dataDir: data },
  });
const confs: Record<Kind, string> = { agent: confOf('agent'), solo: confOf('solo'), ref: confOf('ref') };

const sh = (cmd: string, args: string[]) => spawnSync(cmd, args, { stdio: 'ignore' });
const nss = Array.from({ length: PAR }, (_, i) => `${tag}-${i}`);
const env = (cmd: string, k: Kind, id: string, ns: string) => ({
  CNI_COMMAND: cmd,
  CNI_CONTAINERID: id,
  CNI_NETNS: `/var/run/netns/${ns}`,
  CNI_IFNAME: 'eth0',
  CNI_PATH: k === 'ref' ? REF_DIR : `${join(root, 'dist', 'cni')}:${REF_DIR}`,
  PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
});
function once(cmd: string, k: Kind, id: string, ns: string): number {
  const t = process.hrtime.bigint();
  const r = spawnSync(k === 'ref' ? REF : HP, [], { input: confs[k], env: env(cmd, k, id, ns) });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0) throw new Error(`${k} ${cmd} ${id} failed: ${r.error?.message ?? ''} ${r.stdout}${r.stderr}`);
  // A client that fell back to in-process work still answered; the sample stays (it is what the runtime saw) and is counted.
  if (k === 'agent' && String(r.stderr).includes('running in-process'))
    fallbacks.push(`${cmd} ${id}: ${String(r.stderr).match(/"why":"([^"]*)"/)?.[1] ?? '?'}`);
  return ms;
}
function background(cmd: string, k: Kind, id: string, ns: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(k === 'ref' ? REF : HP, [], { env: env(cmd, k, id, ns), stdio: ['pipe', 'pipe', 'ignore'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${k} ${cmd} ${id}: ${out}`))));
    p.stdin.end(confs[k]);
  });
}
const leases = (k: Kind) => {
  try {
    return readdirSync(join(data, `${tag}-${k}`)).filter((f) => /^\d/.test(f)).length;
  } catch {
    return 0;
  }
};
/** The agent's DEL answers before its teardown: wait for it between phases so phases do not overlap. */
const settle = () => eventually(() => leases('agent') === 0, 60_000, 'agent teardown');

const lines: string[] = [];
const fallbacks: string[] = [];
const out = (s = '') => {
  lines.push(s);
  console.log(s);
};
const f = (x: number) => x.toFixed(1).padStart(8);

try {
  for (const n of nss) sh('ip', ['netns', 'add', n]);
  await agent.start();
  // Warm-up: the first ADD creates each bridge (and warms the agent's ip channel).
  for (const k of KINDS)
    for (let i = 0; i < 3; i++) {
      once('ADD', k, `${k}-warm${i}`, nss[i]!);
      once('DEL', k, `${k}-warm${i}`, nss[i]!);
    }
  await settle();

  const t: Record<string, number[]> = {};
  const push = (k: string, v: number) => {
    t[k] ??= [];
    t[k].push(v);
  };
  const orders: Kind[][] = [
    ['agent', 'solo', 'ref'],
    ['ref', 'agent', 'solo'],
    ['solo', 'ref', 'agent'],
  ];
  for (let i = 0; i < N; i++) {
    const ns = nss[i % PAR]!;
    for (const k of orders[i % 3]!) {
      const a = once('ADD', k, `${k}-${i}`, ns);
      const d = once('DEL', k, `${k}-${i}`, ns);
      push(`${k} ADD`, a);
      push(`${k} DEL`, d);
      push(`${k} ADD+DEL`, a + d);
    }
    // The client alone: a STATUS through the agent (no exec, two directory reads) is its start-up plus one round trip.
    push('agent STATUS (client start + round trip)', once('STATUS', 'agent', 'x', ns));
    push('solo VERSION (executable start-up)', once('VERSION', 'solo', 'x', ns));
    // The agent's DEL answers before its teardown (the veth deletion, which
    // holds the kernel's rtnl lock through an RCU grace period) has run: let it
    // finish, untimed, before the next sample, so it is charged to no other
    // plugin's ADD either.
    await settle();
  }
  await settle();

  // The agent's own view (its one log line per request): from reading the request to writing the answer.
  const sideOf = (cmd: string) =>
    agent
      .served(cmd)
      .slice(3)
      .map((l) => l.ms as number)
      .filter((x) => typeof x === 'number');
  const sides = { ADD: sideOf('ADD'), DEL: sideOf('DEL') };
  const side = (cmd: 'ADD' | 'DEL') => sides[cmd];
  const par: Record<Kind, number[]> = { agent: [], solo: [], ref: [] };
  for (let r = 0; r < ROUNDS; r++) {
    for (const k of orders[r % 3]!) {
      const t0 = process.hrtime.bigint();
      await Promise.all(nss.map((n, i) => background('ADD', k, `${k}-p${r}-${i}`, n)));
      par[k].push(Number(process.hrtime.bigint() - t0) / 1e6);
      await Promise.all(nss.map((n, i) => background('DEL', k, `${k}-p${r}-${i}`, n)));
      await settle();
    }
  }

  const ratio = (a: string, b: string) => median(t[a]!) / median(t[b]!);
  const verdict = (x: number, target: number) => `${x.toFixed(3)} (target <= ${target}: ${x <= target ? 'met' : 'NOT met'})`;
  out(
    `CNI latency, ${N} interleaved samples each, ms (agent = through the agent's CNI server; solo = no agent, in-process; ref = Go bridge + host-local v1.10.0)`,
  );
  out(`${''.padEnd(42)}  median       p99`);
  for (const [k, v] of Object.entries(t)) out(`${k.padEnd(42)} ${f(median(v))}  ${f(percentile(v, 99))}`);
  out('');
  out(`agent ADD+DEL / ref ADD+DEL (medians): ${verdict(ratio('agent ADD+DEL', 'ref ADD+DEL'), 0.6)}`);
  out(`agent ADD / ref ADD (medians):         ${verdict(ratio('agent ADD', 'ref ADD'), 1.0)}`);
  out(`solo ADD+DEL / ref ADD+DEL (medians):  ${verdict(ratio('solo ADD+DEL', 'ref ADD+DEL'), 1.3)}`);
  const pm = (k: Kind) => median(par[k]);
  out(
    `${PAR} parallel ADDs, wall ms, median of ${ROUNDS} rounds: agent ${pm('agent').toFixed(0)}, solo ${pm('solo').toFixed(0)}, ref ${pm('ref').toFixed(0)} (rounds: agent ${par.agent.map((x) => x.toFixed(0)).join('/')}, solo ${par.solo.map((x) => x.toFixed(0)).join('/')}, ref ${par.ref.map((x) => x.toFixed(0)).join('/')})`,
  );
  out(`agent / ref parallel wall: ${verdict(pm('agent') / pm('ref'), 0.5)}`);
  out(
    `agent-side time per request (its log, sequential samples), median ms: ADD ${median(side('ADD')).toFixed(1)}, DEL ${median(side('DEL')).toFixed(1)} (the rest of an agent row above is the client: start-up, connect, two socket round trips)`,
  );
  out(`agent-mode calls that fell back to in-process work: ${fallbacks.length}${fallbacks.length ? ` (${fallbacks.slice(0, 3).join('; ')})` : ''}`);
  out(
    `machine: ${cpus().length} CPUs, load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')} at the end, ${new Date().toISOString()}`,
  );
} finally {
  for (const l of agent.lines()) if ((l.level as number) >= 40) console.error(`agent: ${JSON.stringify(l)}`);
  await agent.stop();
  for (const n of nss) sh('ip', ['netns', 'del', n]);
  for (const b of Object.values(bridges)) sh('ip', ['link', 'del', b]);
  rmSync(data, { recursive: true, force: true });
}
