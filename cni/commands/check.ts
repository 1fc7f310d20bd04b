// CHECK: the attachment still looks the way ADD reported it (prevResult).
import { CniError, Code } from '../errors.ts';
import type { NetConf } from '../config.ts';
import type { CniRequest } from '../request.ts';
import { type Deps, ipamFor } from './deps.ts';
import { hostVethName } from '../net/veth.ts';
import { parseCidr, formatIp } from '../ipam/ip.ts';

interface AddrInfo {
  addr_info?: { local?: string; prefixlen?: number }[];
  address?: string;
}
interface RouteInfo {
  dst?: string;
  gateway?: string;
}

const fail = (msg: string, details = '') => new CniError(Code.CheckFailed, msg, details);

export async function check(req: CniRequest, conf: NetConf, deps: Deps): Promise<void> {
  const prev = conf.prevResult;
  if (!prev) throw new CniError(Code.InvalidConfig, 'invalid config: CHECK needs prevResult');
  if (!deps.view.netnsExists(req.netns)) throw new CniError(Code.UnknownContainer, `netns ${req.netns} does not exist`);
  const idx = (prev.interfaces ?? []).findIndex((i) => i.name === req.ifname && i.sandbox !== undefined);
  if (idx < 0) throw fail(`prevResult has no interface ${req.ifname} in a sandbox`);
  const itf = prev.interfaces![idx]!;
  const myIps = (prev.ips ?? []).filter((i) => i.interface === idx);

  // Host side: the bridge, and our veth enslaved to it.
  if (!deps.view.isBridge(conf.bridge)) throw fail(`bridge ${conf.bridge} is missing`);
  const hostVeth = hostVethName(req.containerId, req.ifname);
  if (!deps.view.linkExists(hostVeth)) throw fail(`host veth ${hostVeth} is missing`);
  if (deps.view.master(hostVeth) !== conf.bridge) throw fail(`host veth ${hostVeth} is not on bridge ${conf.bridge}`);

  // Container side: interface, MAC, addresses, routes.
  const ip = deps.ip;
  let links: AddrInfo[];
  try {
    links = await ip.json<AddrInfo[]>(['addr', 'show', 'dev', req.ifname], req.netns);
  } catch (e) {
    throw fail(`interface ${req.ifname} is missing in ${req.netns}`, (e as Error).message);
  }
  const link = links[0];
  if (!link) throw fail(`interface ${req.ifname} is missing in ${req.netns}`);
  if (itf.mac && link.address && link.address.toLowerCase() !== itf.mac.toLowerCase()) {
    throw fail(`interface ${req.ifname} has MAC ${link.address}, expected ${itf.mac}`);
  }
  const have = new Set((link.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`));
  for (const a of myIps) {
    const c = parseCidr(a.address);
    if (!c || !have.has(`${formatIp(c.ip)}/${c.prefix}`)) throw fail(`address ${a.address} is missing on ${req.ifname}`);
  }
  const routes = prev.routes ?? [];
  if (routes.length) {
    const r4 = await ip.json<RouteInfo[]>(['-4', 'route', 'show'], req.netns);
    const r6 = await ip.json<RouteInfo[]>(['-6', 'route', 'show'], req.netns);
    const norm = (d: string | undefined, v6: boolean) =>
      d === 'default' || d === undefined ? (v6 ? '::/0' : '0.0.0.0/0') : d.includes('/') ? d : `${d}/${v6 ? 128 : 32}`;
    const present = new Set([...r4.map((r) => norm(r.dst, false)), ...r6.map((r) => norm(r.dst, true))]);
    for (const r of routes) {
      const c = parseCidr(r.dst);
      const key = c ? `${formatIp(c.ip)}/${c.prefix}` : r.dst;
      if (!present.has(key)) throw fail(`route to ${r.dst} is missing in ${req.netns}`);
    }
  }

  // Addresses are still ours.
  await ipamFor(conf, deps)?.check(req, myIps);
}
