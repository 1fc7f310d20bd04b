// The Node set from the Kubernetes API through @kubernetes/client-node's
// list+watch cache (ListWatch): one LIST, then a WATCH from its
// resourceVersion, resumed from the last version seen after a dropped stream
// (BOOKMARK events keep that version fresh on a quiet cluster, so a resume
// rarely falls behind the apiserver's history), and a fresh LIST only on
// "410 Gone". A relist diffs against the cache: objects that did not change
// fire nothing, so a lost watch never makes the datapath flap.
//
// Only https API servers: a bearer token is never sent in clear text.
import { CoreV1Api, KubeConfig, ListWatch, Watch, type V1Node, type V1NodeList } from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import type { Logger } from '../../lib/logging.ts';
import { errorMessage } from '../../lib/errors.ts';
import type { KubernetesConfig } from '../config.ts';
import type { NodeObject } from './node.ts';
import type { NodeEvent, NodeSource } from './node-source.ts';

const NODES = '/api/v1/nodes';

/**
 * The service-account token, re-read once a minute (projected tokens are
 * rotated on disk; client-go re-reads at the same pace) and trimmed: a file
 * ending in a newline must not put one into the header.
 */
class TokenFileAuth {
  private token = '';
  private readAt = 0;
  isAuthProvider(user: { authProvider?: { name?: string } }): boolean {
    return user.authProvider?.name === 'hostplane-token-file';
  }
  async applyAuthentication(user: { authProvider?: { config?: Record<string, string> } }, opts: { headers?: Record<string, string> }): Promise<void> {
    const file = user.authProvider?.config?.hostplaneTokenFile;
    if (!file) return;
    if (!this.token || Date.now() - this.readAt > 60_000) {
      try {
        this.token = readFileSync(file, 'utf8').trim();
        this.readAt = Date.now();
      } catch {
        // No token file: anonymous (the apiserver answers 401/403, which is logged and retried).
        this.token = '';
      }
    }
    if (this.token) {
      opts.headers ??= {};
      opts.headers.Authorization = `Bearer ${this.token}`;
    }
  }
}

/**
 * client-node's Watch with the two query parameters its ListWatch does not
 * set: allowWatchBookmarks, and a server-side timeoutSeconds (spread like
 * client-go's reflector, 5–10 min) so streams end cleanly and are resumed.
 */
class BookmarkWatch extends Watch {
  constructor(kc: KubeConfig, inactivityMs: number) {
    super(kc);
    // The stream is torn down after this long with no byte (not even a bookmark) and resumed.
    (this as unknown as { requestTimeoutMs: number }).requestTimeoutMs = inactivityMs;
  }
  override watch(
    path: string,
    query: Record<string, unknown>,
    cb: Parameters<Watch['watch']>[2],
    done: Parameters<Watch['watch']>[3],
  ): Promise<AbortController> {
    return super.watch(path, { ...query, allowWatchBookmarks: true, timeoutSeconds: 300 + Math.floor(Math.random() * 300) }, cb, done);
  }
}

export function kubeConfigFor(cfg: KubernetesConfig): KubeConfig {
  const url = new URL(cfg.apiServer);
  if (url.protocol !== 'https:') throw new Error(`kubernetes.apiServer ${cfg.apiServer}: only https:// API servers are supported`);
  const kc = new KubeConfig();
  kc.addAuthenticator(new TokenFileAuth() as never);
  kc.loadFromOptions({
    clusters: [{ name: 'cluster', server: url.origin, caFile: cfg.caFile, skipTLSVerify: false }],
    // Not `config.tokenFile`: client-node's own FileAuth would claim that one (and neither trims nor survives a missing file).
    users: [{ name: 'agent', authProvider: { name: 'hostplane-token-file', config: { hostplaneTokenFile: cfg.tokenFile } } }],
    contexts: [{ name: 'agent', cluster: 'cluster', user: 'agent' }],
    currentContext: 'agent',
  });
  return kc;
}

export interface NodeInformerOptions {
  kube: KubernetesConfig;
  log: Logger;
  /** Watch inactivity timeout (default 90 s; the apiserver bookmarks about every minute). */
  inactivityMs?: number;
  /** First and largest delay between restarts after an error (default 500 ms, 30 s). */
  backoffMs?: [number, number];
}

export class NodeInformer implements NodeSource {
  private readonly lw: ListWatch<V1Node>;
  private readonly log: Logger;
  private readonly listeners = new Set<(e: NodeEvent | 'synced', n: NodeObject | undefined) => void>();
  private isSynced = false;
  private stopped = true;
  private retry: NodeJS.Timeout | undefined;
  private backoff: number;
  private readonly backoffRange: [number, number];
  private lastError = '';

  constructor(opts: NodeInformerOptions) {
    this.log = opts.log;
    const kc = kubeConfigFor(opts.kube);
    const api = kc.makeApiClient(CoreV1Api);
    this.backoffRange = opts.backoffMs ?? [500, 30_000];
    this.backoff = this.backoffRange[0];
    const list = async (): Promise<V1NodeList> => {
      const l = await api.listNode();
      // The cache applies the list right after this promise resolves; tell listeners once that is done.
      if (!this.isSynced)
        setImmediate(() => {
          this.isSynced = true;
          this.emit('synced', undefined);
        });
      this.log.info({ nodes: l.items.length, resourceVersion: l.metadata?.resourceVersion }, 'nodes listed');
      return l;
    };
    this.lw = new ListWatch<V1Node>(NODES, new BookmarkWatch(kc, opts.inactivityMs ?? 90_000), list, false);
    for (const verb of ['add', 'update', 'delete'] as const) {
      this.lw.on(verb, (n) => {
        this.backoff = this.backoffRange[0];
        if (this.lastError) {
          this.log.info('node watch recovered');
          this.lastError = '';
        }
        this.emit(verb, n as NodeObject);
      });
    }
    // ListWatch gives up on any error but 410 and its own timeout: restart it
    // (from the last resourceVersion, so no relist) with a growing delay.
    this.lw.on('error', (err?: unknown) => this.failed(err));
  }

  private failed(err: unknown): void {
    const msg = errorMessage(err);
    if (msg !== this.lastError) this.log.warn({ err: msg, retryMs: this.backoff }, 'node watch failed; retrying');
    this.lastError = msg;
    if (this.stopped) return;
    if (this.retry) clearTimeout(this.retry);
    this.retry = setTimeout(() => {
      if (!this.stopped) this.lw.start().catch((e: unknown) => this.failed(e));
    }, this.backoff);
    this.retry.unref();
    this.backoff = Math.min(this.backoff * 2, this.backoffRange[1]);
  }

  private emit(e: NodeEvent | 'synced', n: NodeObject | undefined): void {
    for (const l of this.listeners) {
      try {
        l(e, n);
      } catch (err) {
        this.log.error({ err: errorMessage(err) }, 'node listener failed');
      }
    }
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.lw.start().catch((e: unknown) => this.failed(e));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    await this.lw.stop();
  }

  synced(): boolean {
    return this.isSynced;
  }
  get(name: string): NodeObject | undefined {
    return this.lw.get(name) as NodeObject | undefined;
  }
  list(): NodeObject[] {
    return [...this.lw.list()] as NodeObject[];
  }
  latestResourceVersion(): string {
    return this.lw.latestResourceVersion();
  }

  onChange(cb: (event: NodeEvent | 'synced', node: NodeObject | undefined) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }
}
