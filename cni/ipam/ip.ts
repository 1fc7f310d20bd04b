// IPv4/IPv6 addresses as bigints, so one piece of arithmetic serves both families.
// (node:net's isIP would do, but importing it costs start-up in the compiled binary.)
const OCTET = '(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const V4_RE = new RegExp(`^${OCTET}(\\.${OCTET}){3}$`);
const HEX_RE = /^[0-9a-fA-F]{1,4}$/;

function isIPv4(s: string): boolean {
  return V4_RE.test(s);
}

function isIPv6(s: string): boolean {
  const halves = s.split('::');
  if (halves.length > 2) return false;
  const groups = (h: string | undefined) => (h ? h.split(':') : []);
  const all = [...groups(halves[0]), ...groups(halves[1])];
  let count = all.length;
  const last = all[all.length - 1];
  if (last?.includes('.')) {
    if (!isIPv4(last)) return false;
    all.pop();
    count += 1; // a dotted quad fills two groups
  }
  if (!all.every((g) => HEX_RE.test(g))) return false;
  return halves.length === 2 ? count <= 7 : count === 8;
}

export type Family = 4 | 6;

export interface Ip {
  family: Family;
  value: bigint;
}

export interface Cidr {
  ip: Ip;
  prefix: number;
}

export const bits = (f: Family): number => (f === 4 ? 32 : 128);

export function parseIp(s: string): Ip | undefined {
  if (isIPv4(s)) {
    return { family: 4, value: s.split('.').reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n) };
  }
  if (!isIPv6(s) || s.includes('%')) return undefined;
  let text = s;
  // An embedded dotted quad (::ffff:1.2.3.4) becomes two hex groups.
  const dot = text.lastIndexOf(':');
  const tail = text.slice(dot + 1);
  if (tail.includes('.')) {
    const v4 = parseIp(tail)!.value;
    text = `${text.slice(0, dot + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const r = rest ? rest.split(':') : [];
  const groups = rest === undefined ? h : [...h, ...Array<string>(8 - h.length - r.length).fill('0'), ...r];
  return { family: 6, value: groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n) };
}

export function formatIp(ip: Ip): string {
  if (ip.family === 4) {
    const v = ip.value;
    return [24n, 16n, 8n, 0n].map((s) => String((v >> s) & 0xffn)).join('.');
  }
  const groups = Array.from({ length: 8 }, (_, i) => Number((ip.value >> BigInt(112 - i * 16)) & 0xffffn));
  // RFC 5952: compress the longest run (≥2) of zero groups, the first one on a tie.
  let best = -1,
    bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/** "10.0.0.5/24" → address and prefix (the address keeps its host bits). */
export function parseCidr(s: string): Cidr | undefined {
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const ip = parseIp(s.slice(0, slash));
  const p = s.slice(slash + 1);
  if (!ip || !/^\d{1,3}$/.test(p)) return undefined;
  const prefix = Number(p);
  if (prefix > bits(ip.family)) return undefined;
  return { ip, prefix };
}

export function formatCidr(c: Cidr): string {
  return `${formatIp(c.ip)}/${c.prefix}`;
}

export function hostMask(family: Family, prefix: number): bigint {
  return (1n << BigInt(bits(family) - prefix)) - 1n;
}

export function networkOf(c: Cidr): Cidr {
  return { ip: { family: c.ip.family, value: c.ip.value & ~hostMask(c.ip.family, c.prefix) }, prefix: c.prefix };
}

export function contains(net: Cidr, ip: Ip): boolean {
  return net.ip.family === ip.family && (ip.value & ~hostMask(ip.family, net.prefix)) === networkOf(net).ip.value;
}

export function ipEquals(a: Ip, b: Ip): boolean {
  return a.family === b.family && a.value === b.value;
}
