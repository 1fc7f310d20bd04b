// The built-in IPAM behind the Ipam interface: the lock-free lease store.
import { CniError, Code } from '../errors.ts';
import type { HostplaneIpam, NetConf } from '../config.ts';
import type { CniRequest } from '../request.ts';
import type { IpConfig } from '../result.ts';
import { type Ip, parseCidr, formatIp } from './ip.ts';
import { Allocator } from './allocator.ts';
import type { Ipam, IpamAllocation } from './ipam.ts';

export class BuiltinIpam implements Ipam {
  readonly conf: HostplaneIpam;
  readonly alloc: Allocator;
  private readonly network: string;
  constructor(conf: HostplaneIpam, network: string, bootId: string) {
    this.conf = conf;
    this.network = network;
    this.alloc = new Allocator(conf, network, bootId);
  }

  async allocate(req: CniRequest, requested: Ip[]): Promise<IpamAllocation> {
    return this.alloc.allocate({ containerId: req.containerId, ifname: req.ifname }, requested);
  }

  async release(req: CniRequest): Promise<void> {
    this.alloc.release({ containerId: req.containerId, ifname: req.ifname });
  }

  held(req: CniRequest, _conf: NetConf): string[] {
    return this.alloc.store.byOwner(req.containerId, req.ifname).map((l) => l.ip);
  }

  /**
   * The agent's DEL: mark the leases releasing (the addresses stay taken until
   * the teardown has deleted the veth), so a killed agent's successor or GC
   * can finish.
   */
  markReleasing(req: CniRequest, masq: boolean): void {
    for (const l of this.alloc.store.byOwner(req.containerId, req.ifname)) {
      if (!l.releasing) this.alloc.store.rewrite(l, { masq });
    }
  }

  async check(req: CniRequest, mine: IpConfig[]): Promise<void> {
    for (const a of mine) {
      const lease = this.alloc.store.read(formatIp(parseCidr(a.address)!.ip));
      if (!lease || lease.containerId !== req.containerId || lease.ifname !== req.ifname) {
        throw new CniError(Code.CheckFailed, `address ${a.address} is not leased to this attachment`);
      }
    }
  }

  async status(): Promise<void> {
    const store = this.alloc.store;
    if (!store.accessible()) throw new CniError(Code.NotAvailableDegraded, `lease store ${store.dir} is not readable and writable`);
    let exhausted: boolean;
    try {
      exhausted = this.alloc.exhausted();
    } catch (e) {
      throw new CniError(Code.NotAvailableDegraded, `lease store ${store.dir} is unreadable`, (e as Error).message);
    }
    if (exhausted) throw new CniError(Code.NotAvailable, `address pool of network ${this.network} is exhausted`);
  }

  async gc(_req: CniRequest, valid: { containerId: string; ifname: string }[]): Promise<string[]> {
    return this.alloc.gc(valid).kept;
  }
}
