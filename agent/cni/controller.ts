// Keeps the node's CNI installation current: installs the plugin binaries
// once at start, then writes the conflist from the pod CIDRs (fixed in the
// config, or this Node's spec.podCIDRs from the agent's Node watch). A change
// of this Node rewrites the conflist at once; every pollSeconds the cache is
// re-read as well (no API call), which retries a conflist write that failed.
// Nothing here is undone on shutdown: running pods keep needing the plugin.
import { join } from 'node:path';
import type { Logger } from '../../lib/logging.ts';
import { errorMessage } from '../../lib/errors.ts';
import type { CniConfig } from '../config.ts';
import type { NodeSource } from '../kube/node-source.ts';
import { podCidrsOf } from '../kube/node.ts';
import { buildConflist, normalizeCidrs } from './conflist.ts';
import { installBinary, installConflist } from './install.ts';

export type InstallKind = 'binary' | 'plugin' | 'conflist';

export interface CniControllerOptions {
  cfg: CniConfig;
  nodeName: string;
  /** The agent's Node watch; this controller reads its own Node from it. */
  nodes?: NodeSource;
  log: Logger;
  /** Called for every file actually (re)written. */
  onInstall?: (kind: InstallKind) => void;
}

export class CniController {
  private readonly opts: CniControllerOptions;
  private timer: NodeJS.Timeout | undefined;
  private current: string[] = [];
  private stopped = false;
  private ready = false;
  private unsubscribe: (() => void) | undefined;
  private syncing: Promise<void> = Promise.resolve();

  constructor(opts: CniControllerOptions) {
    this.opts = opts;
  }

  get conflistPath(): string {
    return join(this.opts.cfg.confDir, this.opts.cfg.confName);
  }

  /** What the runtime needs on disk: the plugin binary, and the conflist once written (liveness). */
  installedFiles(): { binary: string; conflist?: string } {
    return { binary: join(this.opts.cfg.binDir, 'hostplane'), ...(this.ready ? { conflist: this.conflistPath } : {}) };
  }

  /** True once a conflist with pod CIDRs is in place. */
  isReady(): boolean {
    return this.ready;
  }

  cidrs(): readonly string[] {
    return this.current;
  }

  async start(): Promise<void> {
    const { cfg, log } = this.opts;
    const outcome = await installBinary(cfg.binarySource, cfg.binDir, 'hostplane');
    if (outcome === 'missing') throw new Error(`cni.binarySource ${cfg.binarySource} does not exist (run npm run build)`);
    if (outcome === 'installed') this.opts.onInstall?.('binary');
    log.info({ source: cfg.binarySource, binDir: cfg.binDir, outcome }, 'cni plugin binary');
    for (const extra of cfg.extraPlugins) {
      const r = await installBinary(extra, cfg.binDir);
      if (r === 'installed') this.opts.onInstall?.('plugin');
      if (r === 'missing') log.warn({ plugin: extra }, 'extra cni plugin not found; skipped');
    }
    if (cfg.podCIDRs.length === 0 && this.opts.nodes) {
      this.unsubscribe = this.opts.nodes.onChange((event, node) => {
        if (event === 'synced' || node?.metadata?.name === this.opts.nodeName) this.resync().catch(() => {});
      });
    }
    await this.resync();
    if (cfg.podCIDRs.length === 0) this.schedule();
  }

  /** One sync at a time, in order: a burst of Node updates ends with the latest CIDRs written. */
  private resync(): Promise<void> {
    const next = this.syncing.then(() => this.sync());
    // A failed write must not stop the chain: the next change or poll tries again.
    this.syncing = next.catch((e: unknown) => this.opts.log.warn({ err: errorMessage(e), path: this.conflistPath }, 'conflist write failed; will retry'));
    return next;
  }

  /** Read the CIDRs and rewrite the conflist if they changed. Errors are logged; the next poll retries. */
  async sync(): Promise<void> {
    const { cfg, log } = this.opts;
    let cidrs: string[];
    try {
      cidrs = normalizeCidrs(cfg.podCIDRs.length ? cfg.podCIDRs : await this.fromNode());
    } catch (e) {
      // Before the first LIST is in, there is nothing to say: the watch calls back when it is.
      if (!this.opts.nodes?.synced() && this.opts.nodes) return;
      log.warn({ err: errorMessage(e), node: this.opts.nodeName }, "cannot read the Node's pod CIDRs; will retry");
      return;
    }
    if (cidrs.length === 0) {
      // A Node without podCIDRs yet (the controller-manager has not allocated
      // them): no conflist, so the runtime keeps the node NotReady for pods.
      log.info({ node: this.opts.nodeName }, 'node has no spec.podCIDRs yet; waiting');
      return;
    }
    if (this.stopped) return;
    let outcome: Awaited<ReturnType<typeof installConflist>>;
    try {
      outcome = await installConflist(this.conflistPath, buildConflist(cfg, cidrs));
    } catch (e) {
      // A write that fails (full disk, a dir gone under us) must not escape the
      // poll timer as an unhandled rejection, which would end the agent.
      log.warn({ err: errorMessage(e), path: this.conflistPath }, 'cannot write the cni conflist; will retry');
      return;
    }
    if (outcome === 'installed') {
      this.opts.onInstall?.('conflist');
      log.info({ path: this.conflistPath, cidrs, previous: this.current }, 'cni conflist written');
    }
    this.current = cidrs;
    this.ready = true;
  }

  private async fromNode(): Promise<string[]> {
    const nodes = this.opts.nodes;
    if (!nodes) throw new Error('no Kubernetes API configured');
    if (!nodes.synced()) throw new Error('the Node list has not been read yet');
    const node = nodes.get(this.opts.nodeName);
    if (!node) throw new Error(`Node ${this.opts.nodeName} not found`);
    return podCidrsOf(node);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.resync()
        .catch(() => {})
        .finally(() => this.schedule());
    }, this.opts.cfg.pollSeconds * 1000);
    this.timer.unref();
  }

  /** Stop polling. The binary and conflist stay: running pods need them. */
  stop(): void {
    this.stopped = true;
    this.unsubscribe?.();
    if (this.timer) clearTimeout(this.timer);
  }
}
