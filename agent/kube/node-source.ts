// What the agent needs from the API: the current set of Node objects, kept
// in sync by a watch, and a call when it changes. The real one is
// agent/kube/node-informer.ts; tests use a fake with the same shape.
import type { NodeObject } from './node.ts';

export type NodeEvent = 'add' | 'update' | 'delete';

export interface NodeSource {
  /** Start listing and watching; resolves once started (not synced). */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** True once the first LIST has been applied to the cache. Until then an empty cache means "unknown", not "no nodes". */
  synced(): boolean;
  get(name: string): NodeObject | undefined;
  list(): NodeObject[];
  /** Called after every change of the cache (and once when the first LIST is in). Returns an unsubscribe. */
  onChange(cb: (event: NodeEvent | 'synced', node: NodeObject | undefined) => void): () => void;
}
