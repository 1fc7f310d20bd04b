// Routing's metrics, registered on the agent's registry.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { PeerView } from './desired.ts';

export class RoutingMetrics {
  readonly reconcileDuration: Histogram;
  readonly reconcileErrors: Counter;
  readonly lastSuccess: Gauge;
  private readonly peers: Gauge<'backend' | 'family'>;
  private readonly skipped: Gauge;

  constructor(registry: Registry) {
    const registers = [registry];
    this.peers = new Gauge({
      name: 'hostplane_routing_peers',
      help: 'Peer node pod CIDRs by backend (host-gw, vxlan, none = not routable, see /debug/peers) and IP family',
      labelNames: ['backend', 'family'],
      registers,
    });
    this.skipped = new Gauge({
      name: 'hostplane_routing_nodes_skipped',
      help: 'Node objects skipped (malformed podCIDR, no address...; logged once each)',
      registers,
    });
    this.reconcileDuration = new Histogram({
      name: 'hostplane_routing_reconcile_duration_seconds',
      help: 'Time to bring the kernel routes, VXLAN FDB/neighbours and masquerade table to the desired state',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
      registers,
    });
    this.reconcileErrors = new Counter({
      name: 'hostplane_routing_reconcile_errors_total',
      help: 'Reconcile runs that left some change unapplied (retried)',
      registers,
    });
    this.lastSuccess = new Gauge({
      name: 'hostplane_routing_last_success_timestamp_seconds',
      help: 'Unix time of the last reconcile that applied everything',
      registers,
    });
  }

  setPeers(peers: readonly PeerView[], skipped: number): void {
    this.peers.reset();
    for (const backend of ['host-gw', 'vxlan', 'none']) for (const family of ['4', '6']) this.peers.set({ backend, family }, 0);
    for (const p of peers) this.peers.inc({ backend: p.backend, family: String(p.family) });
    this.skipped.set(skipped);
  }
}
