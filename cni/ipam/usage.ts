// IPAM pool usage for the agent's metrics: per network and range set, how many
// addresses are leased and how many exist, and how many attachments hold
// leases. Read from the lease files at scrape time, so it is always the truth
// (the executable and the agent share the files).
import type { HostplaneIpam } from '../config.ts';
import { LeaseStore } from './lease-store.ts';
import { parseIp, formatCidr } from './ip.ts';
import { rangeFor, rangeSetSize } from './range.ts';

export interface PoolUsage {
  network: string;
  range: string;
  used: number;
  size: number;
}
export interface AttachmentCount {
  network: string;
  attachments: number;
  releasing: number;
}

export function usageOf(network: string, ipam: HostplaneIpam, bootId: string): { pools: PoolUsage[]; attachments: AttachmentCount } {
  const leases = new LeaseStore(ipam.dataDir, network, bootId).all();
  const pools = ipam.rangeSets.map((rs) => ({
    network,
    range: rs.map((r) => formatCidr(r.subnet)).join(','),
    used: leases.filter((l) => {
      const ip = parseIp(l.ip);
      return ip !== undefined && rangeFor(rs, ip) !== undefined;
    }).length,
    size: Number(rangeSetSize(rs)),
  }));
  const live = new Set<string>(),
    releasing = new Set<string>();
  for (const l of leases) (l.releasing ? releasing : live).add(`${l.containerId}\u0000${l.ifname}`);
  return { pools, attachments: { network, attachments: live.size, releasing: releasing.size } };
}
