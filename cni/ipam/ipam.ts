// One interface for the two ways an attachment gets its addresses: the
// built-in allocator (ipam.type "hostplane", cni/ipam/builtin.ts) or a
// delegated IPAM plugin on CNI_PATH (cni/ipam/delegated.ts). The commands
// (add, del, check, status, gc) talk to this interface only.
import type { NetConf } from '../config.ts';
import type { CniRequest } from '../request.ts';
import type { IpConfig, Route, Result } from '../result.ts';
import type { Ip } from './ip.ts';

export interface IpamAllocation {
  ips: IpConfig[];
  routes: Route[];
  dns?: Result['dns'];
}

export interface Ipam {
  /** ADD: one address per range set (built-in) or whatever the plugin returns. */
  allocate(req: CniRequest, requested: Ip[]): Promise<IpamAllocation>;
  /** DEL: give the attachment's addresses back. Idempotent. */
  release(req: CniRequest): Promise<void>;
  /** The addresses the attachment holds (to un-masquerade): its leases, or what ADD reported. */
  held(req: CniRequest, conf: NetConf): string[];
  /** CHECK: the addresses of prevResult are still this attachment's. */
  check(req: CniRequest, mine: IpConfig[]): Promise<void>;
  /** STATUS: can an ADD be served (throws 50/51 otherwise). */
  status(req: CniRequest): Promise<void>;
  /** GC: release what belongs to no valid attachment; returns the addresses still held when known (masquerade refill). */
  gc(req: CniRequest, valid: { containerId: string; ifname: string }[]): Promise<string[] | undefined>;
}
