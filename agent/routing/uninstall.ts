// `hostplane agent --uninstall-routing`: removes, from the network namespace
// it runs in, everything routing made — routes with our protocol number, the
// VXLAN devices (their FDB and neighbour entries go with them) and the
// masquerade table — and nothing else. Run on a drained node after the
// DaemonSet is gone (a running agent would put it all back).
import type { Dataplane } from './dataplane.ts';
import { plan } from './plan.ts';
import { masqueradeScript } from './masquerade.ts';

export async function uninstallRouting(dp: Dataplane): Promise<{ removed: number; errors: string[] }> {
  const actual = await dp.read();
  const p = plan({ routes: [], vxlan: [], fdb: [], neigh: [], peers: [] }, actual);
  // The devices take their FDB and neighbour entries along: deleting those one by one first is wasted work.
  const ops = p.ops.filter((o) => o.op !== 'fdb-del' && o.op !== 'neigh-del');
  const errors = await dp.apply(ops);
  try {
    await dp.nft(masqueradeScript({ enabled: false, nodes: [], clusterCIDRs: [] }));
  } catch (e) {
    errors.push(`masquerade table: ${(e as Error).message}`);
  }
  return { removed: ops.length, errors };
}
