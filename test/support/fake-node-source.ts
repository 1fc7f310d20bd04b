// A Node watch held in memory: tests add, change and delete Nodes and decide
// when the first LIST "arrives".
import type { NodeObject } from '../../agent/kube/node.ts';
import type { NodeEvent, NodeSource } from '../../agent/kube/node-source.ts';

export class FakeNodeSource implements NodeSource {
  private readonly nodes = new Map<string, NodeObject>();
  private readonly listeners = new Set<(e: NodeEvent | 'synced', n: NodeObject | undefined) => void>();
  private isSynced = false;

  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  synced(): boolean {
    return this.isSynced;
  }
  get(name: string): NodeObject | undefined {
    return this.nodes.get(name);
  }
  list(): NodeObject[] {
    return [...this.nodes.values()];
  }
  onChange(cb: (e: NodeEvent | 'synced', n: NodeObject | undefined) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  /** The first LIST is in. */
  sync(): void {
    this.isSynced = true;
    for (const l of this.listeners) l('synced', undefined);
  }
  /** Before sync(), fills the cache silently (as the LIST would). */
  set(node: NodeObject): void {
    const name = node.metadata!.name!;
    const event: NodeEvent = this.nodes.has(name) ? 'update' : 'add';
    this.nodes.set(name, node);
    if (this.isSynced) for (const l of this.listeners) l(event, node);
  }
  delete(name: string): void {
    const n = this.nodes.get(name);
    if (!n) return;
    this.nodes.delete(name);
    for (const l of this.listeners) l('delete', n);
  }
}
