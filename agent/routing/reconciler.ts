// Keeps this node's routes to every other node's pod CIDR in step with the
// Node set. Every change of the watch cache (and a timer) kicks one loop that
// computes the desired state from the whole set and applies the difference;
// kicks that arrive while a run is in flight fold into one follow-up run, so
// a burst of events costs one or two passes, not one each.
//
// Nothing runs before the first LIST is in: an empty cache then means
// "unknown", and acting on it would delete every route at each restart. On
// start the kernel is read, and whatever already matches (left by the previous
// agent) is adopted as is. After a run that applied everything, the kernel is
// assumed to hold the desired state until the next periodic re-read.
import type { Logger } from '../../lib/logging.ts';
import { errorMessage } from '../../lib/errors.ts';
import type { NodeSource } from '../kube/node-source.ts';
import type { RoutingConfig } from './config.ts';
import type { Actual, Dataplane } from './dataplane.ts';
import { desiredState, type PeerView } from './desired.ts';
import { masqueradeScript } from './masquerade.ts';
import { parseNode, type NodeNet } from './peers.ts';
import { plan } from './plan.ts';
import type { RoutingMetrics } from './metrics.ts';

export interface ReconcilerOptions {
  nodeName: string;
  cfg: RoutingConfig;
  nodes: NodeSource;
  dataplane: Dataplane;
  log: Logger;
  metrics?: RoutingMetrics;
  /** Called after each run with its outcome (tests and the bench time convergence with it). */
  onRun?: (r: RunResult) => void;
}

/** `routedAt`: routes/FDB/neighbours applied; `at`: the masquerade table too (performance.now()). */
export interface RunResult {
  at: number;
  routedAt: number;
  ms: number;
  changes: number;
  errors: string[];
}

export interface PeerTable {
  node: string;
  mode: string;
  synced: boolean;
  lastSuccess: string | null;
  lastErrors: string[];
  peers: PeerView[];
  skipped: { node: string; reason: string }[];
}

export class RoutingReconciler {
  private readonly o: ReconcilerOptions;
  private known: Actual | undefined;
  private lastNft = '';
  private running = false;
  private dirty = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private retry: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private skipLogged = new Map<string, string>();
  private table: PeerTable;
  private idle: Promise<void> = Promise.resolve();
  private idleResolve: (() => void) | undefined;

  constructor(o: ReconcilerOptions) {
    this.o = o;
    this.table = { node: o.nodeName, mode: o.cfg.mode, synced: false, lastSuccess: null, lastErrors: [], peers: [], skipped: [] };
  }

  start(): void {
    this.unsubscribe = this.o.nodes.onChange(() => this.kick());
    this.timer = setInterval(() => {
      this.known = undefined;
      this.kick();
    }, this.o.cfg.resyncSeconds * 1000);
    this.timer.unref();
    this.kick();
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe?.();
    if (this.timer) clearInterval(this.timer);
    if (this.retry) clearTimeout(this.retry);
  }

  /** The current peer table, for /debug/peers. */
  peerTable(): PeerTable {
    return this.table;
  }

  /** Resolves when no run is in flight or pending. */
  settled(): Promise<void> {
    return this.running || this.dirty ? this.idle : Promise.resolve();
  }

  kick(): void {
    if (this.stopped) return;
    this.dirty = true;
    if (this.running) return;
    this.running = true;
    this.idle = new Promise((r) => {
      this.idleResolve = r;
    });
    void this.loop();
  }

  private async loop(): Promise<void> {
    try {
      while (this.dirty && !this.stopped) {
        this.dirty = false;
        await this.runOnce().catch((e: unknown) => this.failed([errorMessage(e)]));
      }
    } finally {
      this.running = false;
      this.idleResolve?.();
    }
  }

  private failed(errors: string[]): void {
    this.known = undefined; // re-read the kernel next time: it is not what we think
    this.o.metrics?.reconcileErrors.inc();
    this.table.lastErrors = errors;
    for (const e of errors) this.o.log.warn({ err: e }, 'routing change failed; retrying');
    if (!this.retry && !this.stopped) {
      this.retry = setTimeout(() => {
        this.retry = undefined;
        this.kick();
      }, 1000);
      this.retry.unref();
    }
  }

  private parseNodes(): { self: NodeNet | undefined; peers: NodeNet[]; all: NodeNet[]; skipped: { node: string; reason: string }[] } {
    const peers: NodeNet[] = [];
    const all: NodeNet[] = [];
    const skipped: { node: string; reason: string }[] = [];
    let self: NodeNet | undefined;
    const seen = new Set<string>();
    for (const obj of this.o.nodes.list()) {
      const name = obj.metadata?.name ?? '(no name)';
      seen.add(name);
      const r = parseNode(obj);
      const reason = 'skip' in r ? r.skip : r.partial;
      if (reason && this.skipLogged.get(name) !== reason) {
        // One line per node and reason, not one per reconcile.
        this.o.log.warn({ node: name, reason }, 'skipping Node for routing');
        this.skipLogged.set(name, reason);
      }
      if (!reason) this.skipLogged.delete(name);
      if ('skip' in r) {
        skipped.push({ node: name, reason: r.skip });
        continue;
      }
      all.push(r.ok);
      if (r.ok.name === this.o.nodeName) self = r.ok;
      else peers.push(r.ok);
    }
    for (const n of this.skipLogged.keys()) if (!seen.has(n)) this.skipLogged.delete(n);
    return { self, peers, all, skipped };
  }

  private async runOnce(): Promise<void> {
    if (!this.o.nodes.synced()) return;
    const t0 = performance.now();
    const { cfg, dataplane } = this.o;
    // Re-read only at start, after a failure, and on the resync timer: an event-driven
    // run must cost the changes alone (a full read is half a dozen execs).
    if (!this.known) this.known = await dataplane.read();
    const actual = this.known;
    const nodes = this.parseNodes();
    const desired = desiredState({ mode: cfg.mode, self: nodes.self, peers: nodes.peers, local: actual.local, vni: cfg.vxlan.vni, port: cfg.vxlan.port });
    const p = plan(desired, actual);
    for (const c of p.conflicts) {
      const v = desired.peers.find((x) => x.podCIDR === c.dst);
      if (v) {
        v.backend = 'none';
        v.reason = `a route to ${c.dst} exists that hostplane did not make; left alone`;
      }
    }
    // The masquerade table is independent of routes and neighbours: both go at once.
    const script = masqueradeScript({ enabled: cfg.mode !== 'off' && cfg.masquerade, nodes: nodes.all, clusterCIDRs: cfg.clusterCIDRs });
    const nft =
      script === this.lastNft
        ? Promise.resolve(undefined)
        : dataplane.nft(script).then(
            () => {
              this.lastNft = script;
              return undefined;
            },
            (e: unknown) => `masquerade table: ${errorMessage(e)}`,
          );
    let routedAt = 0;
    const [errors, nftError] = await Promise.all([
      dataplane.apply(p.ops).then((e) => {
        routedAt = performance.now();
        return e;
      }),
      nft,
    ]);
    if (nftError) errors.push(nftError);
    const ms = performance.now() - t0;
    this.o.metrics?.reconcileDuration.observe(ms / 1000);
    this.o.metrics?.setPeers(desired.peers, nodes.skipped.length);
    this.table = { ...this.table, synced: true, peers: desired.peers, skipped: nodes.skipped };
    if (p.ops.length) this.o.log.info({ changes: p.ops.length, ms: Math.round(ms), failed: errors.length }, 'routes reconciled');
    if (errors.length) {
      this.failed(errors);
    } else {
      const conflicted = new Set(p.conflicts.map((c) => c.dst));
      this.known = {
        local: actual.local,
        foreign: actual.foreign,
        routes: desired.routes.filter((r) => !conflicted.has(r.dst)),
        vxlan: desired.vxlan.map((v) => ({ ...v, up: true })),
        fdb: desired.fdb,
        neigh: desired.neigh,
      };
      this.table.lastErrors = [];
      this.table.lastSuccess = new Date().toISOString();
      this.o.metrics?.lastSuccess.set(Date.now() / 1000);
    }
    this.o.onRun?.({ at: performance.now(), routedAt, ms, changes: p.ops.length, errors });
  }
}
