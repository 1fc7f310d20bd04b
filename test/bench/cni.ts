// ADD/DEL latency of hostplane vs the reference bridge + host-local plugins,
// measured interleaved in one run with the same config shape (ipMasq off),
// plus the wall time of 50 parallel ADDs for each.
//   node_modules/.bin/node test/bench/cni.ts [iterations]
import { spawnSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

const root = join(import.meta.dirname, '..', '..');
const HP = join(root, 'dist', 'cni');
const REF = '/usr/lib/cni';
const N = Number(process.argv[2] ?? 40);
const PAR = 50;
const tag = `hb${process.pid % 10000}`;

if (!existsSync(join(HP, 'hostplane'))) {
  console.error('dist/cni/hostplane missing: run npm run build first');
  process.exit(2);
}

const data = mkdtempSync(join(tmpdir(), 'hp-bench-'));
const conf = (kind: 'hp' | 'ref', bridge: string, subnet: string) => JSON.stringify({
  cniVersion: '1.0.0', name: `${tag}-${kind}`, type: kind === 'hp' ? 'hostplane' : 'bridge', bridge,
  isGateway: true, isDefaultGateway: true, ipMasq: false, hairpinMode: true,
  ipam: { type: kind === 'hp' ? 'hostplane' : 'host-local', ranges: [[{ subnet }]], dataDir: data },
});
const confs = { hp: conf('hp', `${tag}h`, '10.231.0.0/16'), ref: conf('ref', `${tag}r`, '10.232.0.0/16') };

const sh = (cmd: string, args: string[]) => spawnSync(cmd, args, { stdio: 'ignore' });
const nsPath = (n: string) => `/var/run/netns/${n}`;
function env(cmd: string, kind: 'hp' | 'ref', id: string, ns: string) {
  return { CNI_COMMAND: cmd, CNI_CONTAINERID: id, CNI_NETNS: nsPath(ns), CNI_IFNAME: 'eth0', CNI_PATH: kind === 'hp' ? `${HP}:${REF}` : REF, PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };
}
function runOnce(cmd: string, kind: 'hp' | 'ref', id: string, ns: string): number {
  const bin = kind === 'hp' ? join(HP, 'hostplane') : join(REF, 'bridge');
  const t = process.hrtime.bigint();
  const r = spawnSync(bin, [], { input: confs[kind], env: env(cmd, kind, id, ns) });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0) throw new Error(`${kind} ${cmd} failed: ${r.error?.message ?? ""} ${r.stdout}${r.stderr}`);
  return ms;
}
function runAsync(cmd: string, kind: 'hp' | 'ref', id: string, ns: string): Promise<void> {
  const bin = kind === 'hp' ? join(HP, 'hostplane') : join(REF, 'bridge');
  return new Promise((resolve, reject) => {
    const p = spawn(bin, [], { env: env(cmd, kind, id, ns), stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${kind} ${cmd} ${id}: ${out}`))));
    p.stdin.end(confs[kind]);
  });
}

const q = (xs: number[], p: number) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * (s.length - 1) + 0.5))]!; };
const fmt = (x: number) => x.toFixed(1).padStart(7);

const nss = Array.from({ length: PAR }, (_, i) => `${tag}-${i}`);
try {
  for (const n of nss) sh('ip', ['netns', 'add', n]);
  // Warm-up: first ADD creates each bridge.
  for (const k of ['hp', 'ref'] as const) { runOnce('ADD', k, `${k}-warm`, nss[0]!); runOnce('DEL', k, `${k}-warm`, nss[0]!); }
  const t: Record<string, number[]> = { 'hp ADD': [], 'hp DEL': [], 'ref ADD': [], 'ref DEL': [], 'hp ADD+DEL': [], 'ref ADD+DEL': [] };
  for (let i = 0; i < N; i++) {
    for (const k of (i % 2 ? ['hp', 'ref'] : ['ref', 'hp']) as ('hp' | 'ref')[]) {
      const a = runOnce('ADD', k, `${k}-${i}`, nss[1]!);
      const d = runOnce('DEL', k, `${k}-${i}`, nss[1]!);
      t[`${k} ADD`]!.push(a); t[`${k} DEL`]!.push(d); t[`${k} ADD+DEL`]!.push(a + d);
    }
  }
  console.log(`CNI ADD/DEL latency, ${N} interleaved iterations each (ms)`);
  console.log('                   median      p99');
  for (const [k, v] of Object.entries(t)) console.log(`${k.padEnd(14)} ${fmt(q(v, 0.5))}  ${fmt(q(v, 0.99))}`);
  const ratio = q(t['hp ADD+DEL']!, 0.5) / q(t['ref ADD+DEL']!, 0.5);
  console.log(`ratio hostplane/reference ADD+DEL median: ${ratio.toFixed(2)} (target <= 1.0)`);
  const par: Record<string, number> = {};
  for (const k of ['ref', 'hp'] as const) {
    const t0 = process.hrtime.bigint();
    await Promise.all(nss.map((n, i) => runAsync('ADD', k, `${k}-p${i}`, n)));
    par[k] = Number(process.hrtime.bigint() - t0) / 1e6;
    await Promise.all(nss.map((n, i) => runAsync('DEL', k, `${k}-p${i}`, n)));
  }
  console.log(`${PAR} parallel ADDs wall time: hostplane ${par.hp!.toFixed(0)} ms, reference ${par.ref!.toFixed(0)} ms, ratio ${(par.hp! / par.ref!).toFixed(2)} (target <= 1.0)`);
} finally {
  for (const n of nss) sh('ip', ['netns', 'del', n]);
  for (const b of [`${tag}h`, `${tag}r`]) sh('ip', ['link', 'del', b]);
  rmSync(data, { recursive: true, force: true });
}
