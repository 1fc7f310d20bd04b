// NodeGetInfo and NodeGetCapabilities: who this node is (the topology
// segment every volume of ours is pinned to) and what the node service does.
import type { CsiContext } from '../context.ts';
import { nodeTopology } from '../context.ts';

export const NODE_CAPABILITIES = ['STAGE_UNSTAGE_VOLUME', 'GET_VOLUME_STATS', 'EXPAND_VOLUME', 'VOLUME_CONDITION', 'SINGLE_NODE_MULTI_WRITER'] as const;

export function nodeGetInfo(ctx: CsiContext) {
  return { node_id: ctx.nodeId, max_volumes_per_node: ctx.maxVolumes, accessible_topology: nodeTopology(ctx) };
}

export function nodeGetCapabilities() {
  return { capabilities: NODE_CAPABILITIES.map((type) => ({ rpc: { type } })) };
}
