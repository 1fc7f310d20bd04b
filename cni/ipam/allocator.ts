// The built-in IPAM: one address per range set, reserved through the lease store.
import { fnv1a64 } from '../hash.ts';
import { CniError, Code } from '../errors.ts';
import type { HostplaneIpam } from '../config.ts';
import type { IpConfig, Route } from '../result.ts';
import { type Ip, formatIp, ipEquals, parseIp } from './ip.ts';
import { type RangeSet, candidates, rangeFor, rangeSetSize } from './range.ts';
import { LeaseStore } from './lease-store.ts';

export interface Allocation {
  ips: IpConfig[];
  routes: Route[];
}

export interface Owner {
  containerId: string;
  ifname: string;
}

export class Allocator {
  private readonly conf: HostplaneIpam;
  readonly store: LeaseStore;
  constructor(conf: HostplaneIpam, network: string, bootId: string) {
    this.conf = conf;
    this.store = new LeaseStore(conf.dataDir, network, bootId);
  }

  /**
   * Reserve one address per range set (a requested one where given). An
   * attachment that already holds leases gets them back: a retried ADD must not
   * leak a second address. On failure, whatever this call reserved is released.
   */
  allocate(owner: Owner, requested: Ip[]): Allocation {
    this.store.ensureDir();
    this.store.reclaimEarlierBoots();
    const existing = this.store.byOwner(owner.containerId, owner.ifname);
    const taken: string[] = [];
    const ips: IpConfig[] = [];
    try {
      this.conf.rangeSets.forEach((rs, i) => {
        const fam = rs[0]!.subnet.ip.family;
        const mine = existing.find((l) => isInSet(l.ip, rs));
        const want = requested.find((ip) => ip.family === fam && rangeFor(rs, ip));
        let ip: Ip | undefined;
        if (mine && (!want || mine.ip === formatIp(want))) {
          // A lease whose teardown never finished (the agent died): the same
          // attachment is being added again, so it is ours again.
          if (mine.releasing) this.store.rewrite(mine, undefined);
          ip = parseIpOrThrow(mine.ip);
        } else if (want) {
          const s = formatIp(want);
          if (!this.store.tryReserve(s, owner.containerId, owner.ifname)) {
            const holder = this.store.read(s);
            throw new CniError(
              Code.InvalidConfig,
              `requested address ${s} is already allocated`,
              holder ? `held by container ${holder.containerId} ${holder.ifname}` : '',
            );
          }
          taken.push(s);
          ip = want;
        } else {
          const used = new Set(this.store.leasedIps());
          for (const c of candidates(rs, offsetFor(owner))) {
            const s = formatIp(c.ip);
            if (used.has(s)) continue;
            if (this.store.tryReserve(s, owner.containerId, owner.ifname)) {
              taken.push(s);
              ip = c.ip;
              break;
            }
          }
          if (!ip)
            throw new CniError(
              Code.TryAgainLater,
              `no free address in range set ${i} of network ${this.store.dir}`,
              `all ${rangeSetSize(rs)} addresses are leased`,
            );
        }
        const r = rangeFor(rs, ip)!;
        const cfg: IpConfig = { address: `${formatIp(ip)}/${r.subnet.prefix}`, interface: 2 };
        if (r.gateway) cfg.gateway = formatIp(r.gateway);
        ips.push(cfg);
      });
      for (const ip of requested) {
        if (!ips.some((c) => ipEquals(parseIpOrThrow(c.address.split('/')[0]!), ip))) {
          throw new CniError(Code.InvalidConfig, `requested address ${formatIp(ip)} is in none of the configured ranges`);
        }
      }
    } catch (e) {
      for (const s of taken) this.store.release(s);
      throw e;
    }
    const routes: Route[] = this.conf.routes.map((r) => (r.gw ? { dst: r.dst, gw: r.gw } : { dst: r.dst }));
    return { ips, routes };
  }

  /** Release every lease of the attachment; idempotent. Returns the released addresses. */
  release(owner: Owner): string[] {
    const mine = this.store.byOwner(owner.containerId, owner.ifname);
    for (const l of mine) this.store.release(l.ip);
    return mine.map((l) => l.ip);
  }

  /** GC: keep only leases of live attachments; returns the addresses still leased. */
  gc(valid: Owner[]): { released: string[]; kept: string[] } {
    this.store.ensureDir();
    this.store.reclaimEarlierBoots();
    this.store.removeOrphanTemps();
    const live = new Set(valid.map((v) => `${v.containerId}\n${v.ifname}`));
    const released: string[] = [],
      kept: string[] = [];
    for (const l of this.store.all()) {
      if (live.has(`${l.containerId}\n${l.ifname}`)) kept.push(l.ip);
      else {
        this.store.release(l.ip);
        released.push(l.ip);
      }
    }
    return { released, kept };
  }

  /** STATUS: true when some range set has no free address left. */
  exhausted(): boolean {
    if (this.store.fromEarlierBoot()) return false;
    const leased = this.store.leasedIps().map(parseIp);
    return this.conf.rangeSets.some((rs) => {
      const inSet = leased.filter((ip) => ip && rangeFor(rs, ip)).length;
      return BigInt(inSet) >= rangeSetSize(rs);
    });
  }
}

function isInSet(ip: string, rs: RangeSet): boolean {
  const p = parseIp(ip);
  return p !== undefined && rangeFor(rs, p) !== undefined;
}

function parseIpOrThrow(s: string): Ip {
  const ip = parseIp(s);
  if (!ip) throw new CniError(Code.Internal, `bad address in lease store: ${s}`);
  return ip;
}

// Within the first 64Ki addresses of a set: enough spread for any realistic
// burst of parallel ADDs, and IPv6 pods get readable addresses (fd00::1a2b),
// not ones scattered over a /64.
function offsetFor(o: Owner): bigint {
  return fnv1a64(`${o.containerId}/${o.ifname}`) % 65536n;
}
