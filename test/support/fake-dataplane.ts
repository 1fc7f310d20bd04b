// An in-memory kernel for the routing reconciler: apply() edits the state
// the way ip/bridge would, read() returns it; every op is recorded.
import type { Actual, Dataplane, Op } from '../../agent/routing/dataplane.ts';
import type { LocalAddr } from '../../agent/routing/desired.ts';

export class FakeDataplane implements Dataplane {
  state: Actual;
  ops: Op[] = [];
  nftScripts: string[] = [];
  reads = 0;
  /** Make the next apply() report this failure once. */
  failNext: string | undefined;

  constructor(local: LocalAddr[]) {
    this.state = { local, routes: [], foreign: new Set(), vxlan: [], fdb: [], neigh: [] };
  }

  async read(): Promise<Actual> {
    this.reads++;
    return structuredClone(this.state);
  }

  async apply(ops: readonly Op[]): Promise<string[]> {
    if (this.failNext) {
      const f = this.failNext;
      this.failNext = undefined;
      return [f];
    }
    const s = this.state;
    for (const o of ops) {
      this.ops.push(o);
      switch (o.op) {
        case 'vxlan-add':
          s.vxlan.push({ ...o.spec, up: false });
          break;
        case 'vxlan-set':
          s.vxlan = s.vxlan.map((v) => (v.name === o.spec.name ? { ...v, mtu: o.spec.mtu, mac: o.spec.mac, up: true } : v));
          break;
        case 'link-del':
          s.vxlan = s.vxlan.filter((v) => v.name !== o.name);
          s.fdb = s.fdb.filter((f) => f.dev !== o.name);
          s.neigh = s.neigh.filter((n) => n.dev !== o.name);
          s.routes = s.routes.filter((r) => r.dev !== o.name);
          break;
        case 'route-replace':
          s.routes = [...s.routes.filter((r) => r.dst !== o.route.dst), o.route];
          break;
        case 'route-del':
          s.routes = s.routes.filter((r) => r.dst !== o.route.dst);
          break;
        case 'fdb-replace':
          s.fdb = [...s.fdb.filter((f) => !(f.dev === o.fdb.dev && f.mac === o.fdb.mac)), o.fdb];
          break;
        case 'fdb-del':
          s.fdb = s.fdb.filter((f) => !(f.dev === o.fdb.dev && f.mac === o.fdb.mac && f.dst === o.fdb.dst));
          break;
        case 'neigh-replace':
          s.neigh = [...s.neigh.filter((n) => !(n.dev === o.neigh.dev && n.ip === o.neigh.ip)), o.neigh];
          break;
        case 'neigh-del':
          s.neigh = s.neigh.filter((n) => !(n.dev === o.neigh.dev && n.ip === o.neigh.ip));
          break;
      }
    }
    return [];
  }

  async nft(script: string): Promise<void> {
    this.nftScripts.push(script);
  }
}
