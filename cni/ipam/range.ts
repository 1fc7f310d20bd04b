// host-local's range model: `ranges` is a list of range sets, each a list of
// ranges of one family; every range set yields one address per attachment.
import { type Cidr, type Ip, contains, hostMask, networkOf, formatIp, ipEquals } from './ip.ts';

export interface Range {
  subnet: Cidr; // network address, prefix
  start: Ip;
  end: Ip;
  gateway?: Ip;
}

export type RangeSet = Range[];

/** Fill in host-local's defaults: start = network+1, end = last usable, gateway = network+1. */
export function makeRange(subnet: Cidr, opts: { start?: Ip; end?: Ip; gateway?: Ip }, where: string): Range {
  const net = networkOf(subnet);
  const fam = net.ip.family;
  const first = net.ip.value + 1n;
  const max = net.ip.value | hostMask(fam, net.prefix);
  // IPv4 keeps the broadcast address out; IPv6 has none.
  const last = fam === 4 ? max - 1n : max;
  if (last < first) throw new RangeError(`${where}.subnet ${formatIp(net.ip)}/${net.prefix} has no usable addresses`);
  for (const [k, v] of Object.entries(opts)) {
    if (v && !contains(net, v))
      throw new RangeError(
        `${where}.${k === 'start' ? 'rangeStart' : k === 'end' ? 'rangeEnd' : k} ${formatIp(v)} is outside subnet ${formatIp(net.ip)}/${net.prefix}`,
      );
  }
  const start = opts.start ?? { family: fam, value: first };
  const end = opts.end ?? { family: fam, value: last };
  if (start.value > end.value) throw new RangeError(`${where}.rangeStart is after rangeEnd`);
  const gateway = opts.gateway ?? { family: fam, value: first };
  return { subnet: net, start, end, gateway };
}

/** Number of addresses a range hands out (its gateway excluded). */
export function rangeSize(r: Range): bigint {
  const n = r.end.value - r.start.value + 1n;
  return r.gateway && r.gateway.value >= r.start.value && r.gateway.value <= r.end.value ? n - 1n : n;
}

export function rangeSetSize(rs: RangeSet): bigint {
  return rs.reduce((a, r) => a + rangeSize(r), 0n);
}

export function rangeFor(rs: RangeSet, ip: Ip): Range | undefined {
  return rs.find((r) => r.start.family === ip.family && ip.value >= r.start.value && ip.value <= r.end.value && !(r.gateway && ipEquals(r.gateway, ip)));
}

/**
 * Candidate addresses in a range set, beginning at `offset` (mod the set's size)
 * and wrapping once. Starting at a per-attachment offset spreads concurrent
 * allocators over the pool, so they rarely collide on the same lease file.
 */
export function* candidates(rs: RangeSet, offset: bigint): Generator<{ ip: Ip; range: Range }> {
  const total = rs.reduce((a, r) => a + (r.end.value - r.start.value + 1n), 0n);
  if (total === 0n) return;
  const first = offset % total;
  for (let i = 0n; i < total; i++) {
    let k = (first + i) % total;
    for (const r of rs) {
      const n = r.end.value - r.start.value + 1n;
      if (k < n) {
        const ip: Ip = { family: r.start.family, value: r.start.value + k };
        if (!(r.gateway && ipEquals(r.gateway, ip))) yield { ip, range: r };
        break;
      }
      k -= n;
    }
  }
}
