// The routing component's options: its type, defaults and its one validator.
// `routing: auto` (the shorthand) or a mapping with `mode` and the rest.
import type { Fields } from '../../lib/fields.ts';

export type RoutingMode = 'off' | 'auto' | 'host-gw' | 'vxlan';
export const ROUTING_MODES: readonly RoutingMode[] = ['off', 'auto', 'host-gw', 'vxlan'];

export interface RoutingConfig {
  /**
   * off: no routes to other nodes (single-node use). auto: host-gw to peers on
   * this node's L2 segment, VXLAN to the rest. host-gw / vxlan: that backend
   * for every peer.
   * @default 'off'
   */
  mode: RoutingMode;
  vxlan: {
    /** @default 1 */
    vni: number;
    /** UDP port; 8472 is the Linux default (and flannel's). @default 8472 */
    port: number;
  };
  /** Masquerade pod traffic that leaves the cluster (nftables table `inet hostplane_routing`). @default true */
  masquerade: boolean;
  /** Destinations that count as "inside the cluster" besides every Node's pod CIDRs and addresses (Service CIDRs...). @default [] */
  clusterCIDRs: string[];
  /** A full re-read of the kernel state every so often repairs drift (a route deleted by hand). @default 10 */
  resyncSeconds: number;
}

export const ROUTING_FIELDS = ['mode', 'vxlan', 'masquerade', 'clusterCIDRs', 'resyncSeconds'];

/** Validate `routing` (f is the parent: the agent config's top level). Problems are recorded on f. */
export function validateRouting(f: Fields): RoutingConfig {
  const raw = f.raw('routing');
  if (typeof raw === 'string') {
    return { ...defaults(), mode: f.oneOf('routing', ROUTING_MODES, 'off') as RoutingMode };
  }
  const r = f.object('routing');
  r.noOthers(ROUTING_FIELDS);
  const vx = r.object('vxlan');
  vx.noOthers(['vni', 'port']);
  return {
    mode: r.oneOf('mode', ROUTING_MODES, 'off') as RoutingMode,
    vxlan: { vni: vx.int('vni', 1, 1, 16_777_215), port: vx.int('port', 8472, 1, 65535) },
    masquerade: r.bool('masquerade', true),
    clusterCIDRs: r.cidrList('clusterCIDRs'),
    resyncSeconds: r.int('resyncSeconds', 10, 1, 3600),
  };
}

function defaults(): RoutingConfig {
  return { mode: 'off', vxlan: { vni: 1, port: 8472 }, masquerade: true, clusterCIDRs: [], resyncSeconds: 10 };
}
