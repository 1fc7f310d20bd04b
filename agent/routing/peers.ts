// From Node objects to what routing needs of each: pod CIDR and node address
// per family. A Node that cannot be used is skipped with a reason (logged
// once per reason by the reconciler), never an exception.
import { parseCidr, parseIp, formatCidr, formatIp, networkOf, type Family } from '../../cni/ipam/ip.ts';
import { podCidrsOf, type NodeObject } from '../kube/node.ts';

export interface NodeNet {
  name: string;
  /** Per family: the pod CIDR (normalized) and the node address. */
  families: Partial<Record<Family, { podCIDR: string; address: string }>>;
}

export type NodeParse = { ok: NodeNet; partial?: string } | { skip: string };

/** Address preference: the cluster-internal one, then the external one (kubelet's own order). */
const ADDRESS_TYPES = ['InternalIP', 'ExternalIP'];

export function parseNode(node: NodeObject): NodeParse {
  const name = node.metadata?.name ?? '';
  if (!name) return { skip: 'Node without metadata.name' };
  const cidrs = podCidrsOf(node);
  if (cidrs.length === 0) return { skip: 'no spec.podCIDRs yet' };
  const parsed = new Map<Family, string>();
  for (const c of cidrs) {
    const p = parseCidr(c);
    if (!p) return { skip: `malformed podCIDR ${JSON.stringify(c)}` };
    const net = formatCidr(networkOf(p));
    if (net !== formatCidr(p)) return { skip: `malformed podCIDR ${JSON.stringify(c)} (host bits set; the network is ${net})` };
    if (parsed.has(p.ip.family)) return { skip: `two IPv${p.ip.family} podCIDRs (${parsed.get(p.ip.family)}, ${c})` };
    parsed.set(p.ip.family, net);
  }
  const addrs = new Map<Family, string>();
  for (const type of ADDRESS_TYPES) {
    for (const a of node.status?.addresses ?? []) {
      if (a.type !== type || typeof a.address !== 'string') continue;
      const ip = parseIp(a.address);
      if (ip && !addrs.has(ip.family)) addrs.set(ip.family, formatIp(ip));
    }
  }
  if (addrs.size === 0) return { skip: 'no InternalIP or ExternalIP in status.addresses' };
  const families: NodeNet['families'] = {};
  const missing: string[] = [];
  for (const [fam, podCIDR] of parsed) {
    const address = addrs.get(fam);
    if (address) families[fam] = { podCIDR, address };
    else missing.push(`IPv${fam} podCIDR ${podCIDR} but no IPv${fam} node address`);
  }
  if (Object.keys(families).length === 0) return { skip: missing.join('; ') };
  return missing.length ? { ok: { name, families }, partial: missing.join('; ') } : { ok: { name, families } };
}
