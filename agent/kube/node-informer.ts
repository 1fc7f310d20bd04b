// The Node set from the Kubernetes API, as a list+watch cache (what
// client-go's reflector does): one LIST, then a WATCH from its
// resourceVersion, resumed from the last version seen after a dropped stream
// (BOOKMARK events keep that version fresh on a quiet cluster, so a resume
// rarely falls behind the apiserver's history), and a fresh LIST only on
// "410 Gone". A relist diffs against the cache: objects that did not change
// fire nothing, so a lost watch never makes the datapath flap.
import type { Logger } from '../../lib/logging.ts';
import { errorMessage } from '../../lib/errors.ts';
import type { KubernetesConfig } from '../config.ts';
import type { NodeObject } from './node.ts';
import type { NodeEvent, NodeSource } from './node-source.ts';
import { KubeApiError, KubeClient, type WatchEvent, type WatchStream } from './api-client.ts';

const NODES = '/api/v1/nodes';

interface NodeList {
  metadata?: { resourceVersion?: string };
  items?: NodeObject[];
}

export interface NodeInformerOptions {
  kube: KubernetesConfig;
  log: Logger;
  /** Watch inactivity timeout (default 90 s; the apiserver bookmarks about every minute). */
  inactivityMs?: number;
  /** First and largest delay between restarts after an error (default 500 ms, 30 s). */
  backoffMs?: [number, number];
}

/** Only what the agent reads of a Node (NodeObject): a full Node, images and conditions included, is ~10x larger. */
function slim(n: NodeObject): NodeObject {
  const m = n.metadata ?? {};
  const out: NodeObject = { metadata: { name: m.name, resourceVersion: m.resourceVersion } };
  if (n.spec) out.spec = { podCIDR: n.spec.podCIDR, podCIDRs: n.spec.podCIDRs };
  if (n.status) out.status = { addresses: n.status.addresses };
  return out;
}

export class NodeInformer implements NodeSource {
  private readonly client: KubeClient;
  private readonly log: Logger;
  private readonly inactivityMs: number;
  private readonly listeners = new Set<(e: NodeEvent | 'synced', n: NodeObject | undefined) => void>();
  private readonly cache = new Map<string, NodeObject>();
  private resourceVersion = '';
  private isSynced = false;
  private stopped = true;
  private generation = 0;
  private ac: AbortController | undefined;
  private stream: WatchStream | undefined;
  private retry: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  private backoff: number;
  private readonly backoffRange: [number, number];
  private lastError = '';

  constructor(opts: NodeInformerOptions) {
    this.log = opts.log;
    this.client = new KubeClient(opts.kube);
    this.inactivityMs = opts.inactivityMs ?? 90_000;
    this.backoffRange = opts.backoffMs ?? [500, 30_000];
    this.backoff = this.backoffRange[0];
  }

  async start(): Promise<void> {
    if (!this.stopped) return;
    this.stopped = false;
    const gen = ++this.generation;
    void this.run(gen);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.generation++;
    if (this.retry) clearTimeout(this.retry);
    this.retry = undefined;
    this.wake?.();
    this.ac?.abort();
    this.stream?.abort();
    await this.stream?.done;
    this.client.close();
  }

  /** The loop: (re)list when there is no version to resume from, then watch until the stream ends; repeat. */
  private async run(gen: number): Promise<void> {
    const live = () => !this.stopped && gen === this.generation;
    while (live()) {
      try {
        if (!this.resourceVersion) await this.relist();
        if (!live()) return;
        const opened = Date.now();
        let events = 0;
        await this.watchOnce(() => events++);
        // A stream the server closes at once, again and again, must not become a busy loop.
        if (events === 0 && Date.now() - opened < 1000) await this.pause(gen);
      } catch (e) {
        if (!live()) return;
        if (e instanceof KubeApiError && e.code === 410) {
          this.resourceVersion = ''; // too old: the next round relists
          continue;
        }
        this.failed(e);
        await this.pause(gen);
      }
    }
  }

  private pause(gen: number): Promise<void> {
    if (gen !== this.generation) return Promise.resolve();
    const ms = this.backoff;
    this.backoff = Math.min(this.backoff * 2, this.backoffRange[1]);
    return new Promise((resolve) => {
      this.wake = resolve;
      this.retry = setTimeout(resolve, ms);
    });
  }

  private async relist(): Promise<void> {
    this.ac = new AbortController();
    const list = await this.client.get<NodeList>(NODES, this.ac.signal);
    const items = (list.items ?? []).map(slim);
    const seen = new Set<string>();
    for (const n of items) {
      const name = n.metadata?.name;
      if (!name) continue;
      seen.add(name);
      this.apply(name, n);
    }
    for (const [name, old] of [...this.cache]) {
      if (!seen.has(name)) {
        this.cache.delete(name);
        this.emit('delete', old);
      }
    }
    this.resourceVersion = list.metadata?.resourceVersion ?? '';
    this.log.info({ nodes: items.length, resourceVersion: this.resourceVersion }, 'nodes listed');
    this.recovered();
    if (!this.isSynced) {
      this.isSynced = true;
      this.emit('synced', undefined);
    }
  }

  private async watchOnce(onAny: () => number): Promise<void> {
    // Server-side timeout spread over 5-10 min, like client-go's reflector, so streams end cleanly and are resumed.
    const timeoutSeconds = 300 + Math.floor(Math.random() * 300);
    const q = new URLSearchParams({
      watch: 'true',
      resourceVersion: this.resourceVersion,
      allowWatchBookmarks: 'true',
      timeoutSeconds: String(timeoutSeconds),
    });
    let gone: KubeApiError | undefined;
    let bad: KubeApiError | undefined;
    this.ac = new AbortController();
    this.stream = await this.client.watch<NodeObject & { code?: number; message?: string }>(
      `${NODES}?${q}`,
      (ev) => {
        // The first event (a bookmark included) proves the stream works: back off from the start again.
        if (onAny() === 0) this.recovered();
        const err = this.onEvent(ev);
        if (err) {
          if (err.code === 410) gone = err;
          else bad = err;
          this.stream?.abort();
        }
      },
      this.inactivityMs,
      this.ac.signal,
    );
    await this.stream.done;
    this.stream = undefined;
    if (gone) throw gone;
    if (bad) throw bad;
  }

  /** Apply one watch event; an ERROR event comes back as the error it carries. */
  private onEvent(ev: WatchEvent<NodeObject & { code?: number; message?: string }>): KubeApiError | undefined {
    const obj = ev.object;
    if (ev.type === 'ERROR') return new KubeApiError(obj?.code ?? 0, `watch error: ${obj?.message ?? 'unknown'}`);
    const rv = obj?.metadata?.resourceVersion;
    const name = obj?.metadata?.name;
    if (ev.type === 'BOOKMARK') {
      if (rv) this.resourceVersion = rv;
      return undefined;
    }
    if (!name) return undefined;
    if (ev.type === 'DELETED') {
      const old = this.cache.get(name);
      this.cache.delete(name);
      if (old) this.emit('delete', slim(obj));
    } else if (ev.type === 'ADDED' || ev.type === 'MODIFIED') {
      this.apply(name, slim(obj));
    }
    if (rv) this.resourceVersion = rv;
    return undefined;
  }

  /** Add or update, firing only when the object is new or its resourceVersion moved. */
  private apply(name: string, n: NodeObject): void {
    const old = this.cache.get(name);
    if (old && old.metadata?.resourceVersion === n.metadata?.resourceVersion) return;
    this.cache.set(name, n);
    this.emit(old ? 'update' : 'add', n);
  }

  private failed(err: unknown): void {
    const msg = errorMessage(err);
    if (msg !== this.lastError) this.log.warn({ err: msg, retryMs: this.backoff }, 'node watch failed; retrying');
    this.lastError = msg;
  }

  private recovered(): void {
    this.backoff = this.backoffRange[0];
    if (this.lastError) {
      this.log.info('node watch recovered');
      this.lastError = '';
    }
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

  synced(): boolean {
    return this.isSynced;
  }
  get(name: string): NodeObject | undefined {
    return this.cache.get(name);
  }
  list(): NodeObject[] {
    return [...this.cache.values()];
  }
  latestResourceVersion(): string {
    return this.resourceVersion;
  }

  onChange(cb: (event: NodeEvent | 'synced', node: NodeObject | undefined) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }
}
