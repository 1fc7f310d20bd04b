// ADD: address the attachment, then build the datapath in two execs: one host
// `ip -batch` (bridge, veth pair with the peer created inside the netns,
// hairpin, up) and one in the netns (addresses, up, routes). Every step pushes
// its inverse on an undo list that unwinds if a later step fails.
import { CniError, Code } from '../errors.ts';
import type { NetConf } from '../config.ts';
import type { CniRequest } from '../request.ts';
import type { Result, Route, Interface } from '../result.ts';
import { type Deps, ipamFor } from './deps.ts';
import type { Ipam } from '../ipam/ipam.ts';
import { parseCidr } from '../ipam/ip.ts';
import type { LinkOp } from '../net/ip-link.ts';
import { bridgeOps, bridgeNeeded, isBridgeSettled, isLinkExistsError } from '../net/bridge.ts';
import { hostVethName, containerMac } from '../net/veth.ts';
import { enableForwarding } from '../net/sysctl.ts';
import { addScript, delScript, runNft } from '../net/masq.ts';
import { ExecError } from '../../lib/exec.ts';
import { familyOf } from '../../lib/ip-family.ts';

type Undo = { what: string; run: () => Promise<void> | void };

export async function add(req: CniRequest, conf: NetConf, deps: Deps): Promise<Result> {
  const ipamImpl = ipamFor(conf, deps);
  if (!ipamImpl) throw new CniError(Code.InvalidConfig, 'invalid config: ipam is required');
  if (!deps.view.netnsExists(req.netns)) throw new CniError(Code.UnknownContainer, `netns ${req.netns} does not exist`);
  const undo: Undo[] = [];
  try {
    return await build(req, conf, deps, ipamImpl, undo);
  } catch (e) {
    for (const u of undo.reverse()) {
      try {
        await u.run();
      } catch (ue) {
        deps.log.warn({ err: ue, step: u.what }, 'rollback step failed');
      }
    }
    throw e;
  }
}

async function build(req: CniRequest, conf: NetConf, deps: Deps, ipamImpl: Ipam, undo: Undo[]): Promise<Result> {
  // 1. Addresses.
  const ipam = await ipamImpl.allocate(req, [...conf.ips, ...req.args.ips]);
  undo.push({ what: 'release addresses', run: () => ipamImpl.release(req) });
  if (ipam.ips.length === 0) throw new CniError(Code.InvalidConfig, 'invalid config: IPAM returned no addresses');
  const families = new Set(ipam.ips.map((i) => familyOf(i.address)));
  if (conf.isGateway) enableForwarding(deps.view, families);

  // 2. Host side: bridge, veth pair (peer born in the netns), port flags.
  const hostVeth = hostVethName(req.containerId, req.ifname);
  const v4 = ipam.ips.map((i) => parseCidr(i.address)?.ip).find((ip) => ip?.family === 4);
  const mac = conf.mac ?? req.args.mac ?? containerMac(v4);
  const gateways = conf.isGateway ? ipam.ips.filter((i) => i.gateway).map((i) => `${i.gateway}/${parseCidr(i.address)!.prefix}`) : [];
  const hostTail: LinkOp[] = [
    // A veth of this very attachment left by an earlier ADD that never got its
    // DEL (the runtime gave up on it): the name is ours, so replace it.
    ...(deps.view.linkExists(hostVeth) ? [{ op: 'link-del', dev: hostVeth } as const] : []),
    { op: 'veth-add', name: hostVeth, mtu: conf.mtu, master: conf.bridge, peer: { name: req.ifname, mac, mtu: conf.mtu, netns: req.netns } },
    { op: 'bridge-port', dev: hostVeth, hairpin: conf.hairpinMode },
    { op: 'link-set', dev: hostVeth, up: true },
  ];
  const ip = deps.ip;
  const create = await bridgeNeeded(conf, deps.view);
  // Deleting the host end removes the peer too; the bridge stays (other pods share it).
  undo.push({ what: 'delete veth', run: async () => void (await ip.applyForce([{ op: 'link-del', dev: hostVeth }])) });
  try {
    await ip.apply([...bridgeOps(conf, gateways, create), ...hostTail]);
  } catch (e) {
    // A parallel ADD created the bridge first: our create line failed and ip stopped there.
    if (!(create && e instanceof ExecError && isLinkExistsError(e.stderr) && (await isBridgeSettled(conf.bridge, deps.view)))) throw e;
    await ip.apply([...bridgeOps(conf, gateways, false), ...hostTail]);
  }

  // 3. Container side: addresses, link up, routes.
  const inner: LinkOp[] = ipam.ips.map((i) => ({ op: 'addr-add', dev: req.ifname, cidr: i.address, nodad: familyOf(i.address) === 6 }));
  inner.push({ op: 'link-set', dev: req.ifname, up: true });
  const routes: Route[] = [];
  const gwFor = (fam: 4 | 6) => ipam.ips.find((i) => i.gateway && familyOf(i.address) === fam)?.gateway;
  for (const r of ipam.routes) {
    const fam = familyOf(r.dst);
    const via = r.gw ?? gwFor(fam);
    inner.push({ op: 'route-add', dst: r.dst, dev: req.ifname, ...(via ? { via } : {}) });
    routes.push(via ? { dst: r.dst, gw: via } : { dst: r.dst });
  }
  if (conf.isDefaultGateway) {
    for (const fam of families) {
      const gw = gwFor(fam);
      const dst = fam === 4 ? '0.0.0.0/0' : '::/0';
      if (!gw || routes.some((r) => r.dst === dst)) continue;
      inner.push({ op: 'route-add', dst, via: gw, dev: req.ifname });
      routes.push({ dst, gw });
    }
  }
  await ip.apply(inner, req.netns);

  // 4. Masquerade.
  if (conf.ipMasq) {
    await runNft(
      deps.exec,
      addScript(
        conf.name,
        ipam.ips.map((i) => i.address),
      ),
    );
    undo.push({
      what: 'masq del',
      run: () =>
        runNft(
          deps.exec,
          delScript(
            conf.name,
            ipam.ips.map((i) => i.address),
          ),
        ),
    });
  }

  // 5. The result: bridge, host veth, container interface (index 2).
  const interfaces: Interface[] = [
    { name: conf.bridge, mac: deps.view.mac(conf.bridge) ?? '' },
    { name: hostVeth, mac: deps.view.mac(hostVeth) ?? '' },
    { name: req.ifname, mac, mtu: conf.mtu, sandbox: req.netns },
  ];
  const ips = ipam.ips.map((i) => ({ ...i, interface: 2 }));
  const own: Result = { interfaces, ips, routes, dns: conf.dns ?? ipam.dns ?? {} };
  return mergePrev(conf.prevResult, own);
}

/** A chained ADD keeps what earlier plugins reported and appends ours. */
function mergePrev(prev: Result | undefined, own: Result): Result {
  if (!prev) return own;
  const base = prev.interfaces?.length ?? 0;
  return {
    interfaces: [...(prev.interfaces ?? []), ...(own.interfaces ?? [])],
    ips: [...(prev.ips ?? []), ...(own.ips ?? []).map((i) => ({ ...i, interface: (i.interface ?? 0) + base }))],
    routes: [...(prev.routes ?? []), ...(own.routes ?? [])],
    dns: own.dns && Object.keys(own.dns).length ? own.dns : (prev.dns ?? {}),
  };
}
