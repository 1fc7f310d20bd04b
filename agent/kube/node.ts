// The part of a Node object the agent reads, and the questions it asks of it.
export interface NodeAddress {
  type?: string;
  address?: string;
}

export interface NodeObject {
  metadata?: { name?: string; resourceVersion?: string };
  spec?: { podCIDR?: string; podCIDRs?: string[] };
  status?: { addresses?: NodeAddress[] };
}

/** spec.podCIDRs (dual-stack), falling back to the older single spec.podCIDR. */
export function podCidrsOf(node: NodeObject): string[] {
  const list = node.spec?.podCIDRs;
  if (Array.isArray(list) && list.length) return list.filter((c): c is string => typeof c === 'string');
  return node.spec?.podCIDR ? [node.spec.podCIDR] : [];
}
