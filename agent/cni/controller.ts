// Keeps the node's CNI installation current: installs the plugin binaries
// once at start, then writes the conflist from the pod CIDRs (fixed in the
// config, or read from this Node's spec.podCIDRs) and re-checks them every
// pollSeconds. Polling one small object is cheaper to get right than a watch
// (no resourceVersion bookkeeping, no reconnect logic) and the CIDRs of a
// Node change rarely; a changed set is rewritten within one interval.
// Nothing here is undone on shutdown: running pods keep needing the plugin.
import { join } from 'node:path';
import type { Logger } from '../../lib/logging.ts';
import { errorMessage } from '../../lib/errors.ts';
import type { CniConfig } from '../config.ts';
import type { KubeClient } from '../kube/client.ts';
import { podCidrsOf } from '../kube/client.ts';
import { buildConflist, normalizeCidrs } from './conflist.ts';
import { installBinary, installConflist } from './install.ts';

export type InstallKind = 'binary' | 'plugin' | 'conflist';

export interface CniControllerOptions {
  cfg: CniConfig;
  nodeName: string;
  kube?: KubeClient;
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

  constructor(opts: CniControllerOptions) {
    this.opts = opts;
  }

  get conflistPath(): string {
    return join(this.opts.cfg.confDir, this.opts.cfg.confName);
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
    await this.sync();
    if (cfg.podCIDRs.length === 0) this.schedule();
  }

  /** Read the CIDRs and rewrite the conflist if they changed. Errors are logged; the next poll retries. */
  async sync(): Promise<void> {
    const { cfg, log } = this.opts;
    let cidrs: string[];
    try {
      cidrs = normalizeCidrs(cfg.podCIDRs.length ? cfg.podCIDRs : await this.fromNode());
    } catch (e) {
      log.warn({ err: errorMessage(e), node: this.opts.nodeName }, 'cannot read the Node\'s pod CIDRs; will retry');
      return;
    }
    if (cidrs.length === 0) {
      // A Node without podCIDRs yet (the controller-manager has not allocated
      // them): no conflist, so the runtime keeps the node NotReady for pods.
      log.info({ node: this.opts.nodeName }, 'node has no spec.podCIDRs yet; waiting');
      return;
    }
    if (this.stopped) return;
    let outcome;
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
    if (!this.opts.kube) throw new Error('no Kubernetes API configured');
    return podCidrsOf(await this.opts.kube.getNode(this.opts.nodeName));
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.sync().finally(() => this.schedule());
    }, this.opts.cfg.pollSeconds * 1000);
    this.timer.unref();
  }

  /** Stop polling. The binary and conflist stay: running pods need them. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }
}
