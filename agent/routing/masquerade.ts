// Masquerade only what leaves the cluster: traffic from a pod address to
// anything that is not a pod CIDR, a Node address or a configured cluster CIDR
// gets the node's address; pod→pod and pod→node traffic across nodes keeps its
// source. One nftables table of our own, replaced whole in one transaction
// (add + delete + define is atomic and idempotent), removed on uninstall.
import { parseIp, parseCidr, type Family } from '../../cni/ipam/ip.ts';
import type { NodeNet } from './peers.ts';

export const MASQ_TABLE = 'inet hostplane_routing';

export interface MasqueradeInput {
  enabled: boolean;
  nodes: NodeNet[];
  clusterCIDRs: string[];
}

function set(name: string, family: Family, elements: string[]): string {
  const type = family === 4 ? 'ipv4_addr' : 'ipv6_addr';
  const els = elements.length ? ` elements = { ${[...new Set(elements)].sort().join(', ')} };` : '';
  return `  set ${name} { type ${type}; flags interval; auto-merge;${els} }`;
}

export function masqueradeScript(input: MasqueradeInput): string {
  const lines = [`add table ${MASQ_TABLE}`, `delete table ${MASQ_TABLE}`];
  if (!input.enabled) return `${lines.join('\n')}\n`;
  const pods: Record<Family, string[]> = { 4: [], 6: [] };
  const inside: Record<Family, string[]> = { 4: [], 6: [] };
  for (const n of input.nodes) {
    for (const fam of [4, 6] as const) {
      const f = n.families[fam];
      if (!f) continue;
      pods[fam].push(f.podCIDR);
      inside[fam].push(f.podCIDR, f.address);
    }
  }
  for (const c of input.clusterCIDRs) {
    const p = parseCidr(c) ?? (parseIp(c) ? { ip: parseIp(c)! } : undefined);
    if (p) inside[p.ip.family].push(c);
  }
  lines.push(
    `table ${MASQ_TABLE} {`,
    set('pods4', 4, pods[4]),
    set('cluster4', 4, inside[4]),
    set('pods6', 6, pods[6]),
    set('cluster6', 6, inside[6]),
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    '    ip saddr @pods4 ip daddr != @cluster4 masquerade',
    '    ip6 saddr @pods6 ip6 daddr != @cluster6 masquerade',
    '  }',
    '}',
  );
  return `${lines.join('\n')}\n`;
}
