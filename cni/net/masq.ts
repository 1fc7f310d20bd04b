// ipMasq with nftables. One table for the plugin ("inet hostplane"); per
// network a set of pod addresses per family and its own nat base chain whose
// rule masquerades traffic from the set to anywhere outside the network's
// subnets. Every script is one `nft -f -` transaction (atomic) and idempotent:
// chains are flushed and refilled, sets get elements added or removed, so
// parallel ADD/DEL/GC never duplicate or lose a rule.
import { hashHex } from '../hash.ts';
import type { HostExec } from '../../lib/exec.ts';
import { parseCidr, networkOf, formatCidr } from '../ipam/ip.ts';
import { familyOf } from '../../lib/ip-family.ts';

export const TABLE = 'inet hostplane';

export function ids(network: string): { chain: string; set4: string; set6: string } {
  const h = `n${hashHex(network, 12)}`;
  return { chain: h, set4: `${h}_4`, set6: `${h}_6` };
}

const bare = (cidr: string) => cidr.split('/')[0]!;

function preamble(network: string): string[] {
  const { set4, set6 } = ids(network);
  return [
    `add table ${TABLE}`,
    `add set ${TABLE} ${set4} { type ipv4_addr; comment "${network}"; }`,
    `add set ${TABLE} ${set6} { type ipv6_addr; comment "${network}"; }`,
  ];
}

/** ADD: (re)write the network's masquerade chain and add the pod's addresses. */
export function addScript(network: string, podCidrs: string[]): string {
  const { chain, set4, set6 } = ids(network);
  const nets = (f: 4 | 6) => [...new Set(podCidrs.filter((c) => familyOf(c) === f).map((c) => formatCidr(networkOf(parseCidr(c)!))))];
  const lines = [
    ...preamble(network),
    `add chain ${TABLE} ${chain} { type nat hook postrouting priority srcnat; policy accept; }`,
    `flush chain ${TABLE} ${chain}`,
  ];
  const n4 = nets(4),
    n6 = nets(6);
  if (n4.length) lines.push(`add rule ${TABLE} ${chain} ip saddr @${set4} ip daddr != { ${n4.join(', ')} } masquerade`);
  if (n6.length) lines.push(`add rule ${TABLE} ${chain} ip6 saddr @${set6} ip6 daddr != { ${n6.join(', ')} } masquerade`);
  for (const f of [4, 6] as const) {
    const ips = podCidrs.filter((c) => familyOf(c) === f).map(bare);
    if (ips.length) lines.push(`add element ${TABLE} ${f === 4 ? set4 : set6} { ${ips.join(', ')} }`);
  }
  return `${lines.join('\n')}\n`;
}

/** DEL: remove the addresses; adding first makes the delete succeed when they are already gone. */
export function delScript(network: string, ips: string[]): string {
  const { set4, set6 } = ids(network);
  const lines = preamble(network);
  for (const f of [4, 6] as const) {
    const these = ips.filter((a) => familyOf(a) === f).map(bare);
    if (!these.length) continue;
    const set = f === 4 ? set4 : set6;
    lines.push(`add element ${TABLE} ${set} { ${these.join(', ')} }`, `delete element ${TABLE} ${set} { ${these.join(', ')} }`);
  }
  return `${lines.join('\n')}\n`;
}

/** GC: the sets hold exactly the addresses still leased. */
export function gcScript(network: string, keep: string[]): string {
  const { set4, set6 } = ids(network);
  const lines = [...preamble(network), `flush set ${TABLE} ${set4}`, `flush set ${TABLE} ${set6}`];
  for (const f of [4, 6] as const) {
    const these = keep.filter((a) => familyOf(a) === f).map(bare);
    if (these.length) lines.push(`add element ${TABLE} ${f === 4 ? set4 : set6} { ${these.join(', ')} }`);
  }
  return `${lines.join('\n')}\n`;
}

export async function runNft(exec: HostExec, script: string): Promise<void> {
  await exec.run('nft', ['-f', '-'], { input: script });
}
