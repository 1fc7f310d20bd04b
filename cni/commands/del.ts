// DEL: undo ADD, succeeding whatever is already gone (the netns, the links, the
// leases): runtimes retry DEL until it succeeds, so it must converge. The host
// veth's name is derived from (container id, ifname), so no saved state is
// needed to find it, and deleting the host end removes the peer with it.
import type { NetConf } from '../config.ts';
import type { CniRequest } from '../request.ts';
import { type Deps, allocatorFor, builtinIpam } from './deps.ts';
import { delegate } from '../ipam/delegate.ts';
import { hostVethName } from '../net/veth.ts';
import { delScript, runNft } from '../net/masq.ts';

export async function del(req: CniRequest, conf: NetConf, deps: Deps): Promise<void> {
  const owner = { containerId: req.containerId, ifname: req.ifname };
  const alloc = allocatorFor(conf, deps);
  if (alloc && deps.teardown) {
    // The agent: mark released, schedule the rest, answer. The marks are the
    // durable record a restarted agent (or GC) finishes from.
    for (const l of alloc.store.byOwner(owner.containerId, owner.ifname)) {
      if (!l.releasing) alloc.store.rewrite(l, { masq: conf.ipMasq });
    }
    deps.teardown.schedule({ dataDir: builtinIpam(conf)!.dataDir, network: conf.name, ...owner });
    return;
  }
  // Which addresses to un-masquerade: our leases, else what ADD reported.
  const ips = alloc
    ? alloc.store.byOwner(owner.containerId, owner.ifname).map((l) => l.ip)
    : (conf.prevResult?.ips ?? []).map((i) => i.address);
  const errors: unknown[] = [];
  const step = async (f: () => Promise<unknown> | unknown) => {
    try {
      await f();
    } catch (e) {
      errors.push(e);
    }
  };

  const hostVeth = hostVethName(req.containerId, req.ifname);
  if (deps.view.linkExists(hostVeth)) {
    await step(async () => {
      const r = await deps.ip.applyForce([{ op: 'link-del', dev: hostVeth }]);
      // Someone else (a parallel DEL, the netns going away) may have removed it meanwhile.
      if (r && r.exitCode !== 0 && deps.view.linkExists(hostVeth)) throw new Error(`ip link del ${hostVeth}: ${r.stderr.trim()}`);
    });
  }
  if (conf.ipMasq && ips.length) await step(() => runNft(deps.exec, delScript(conf.name, ips)));
  if (alloc) await step(() => alloc.release(owner));
  else if (conf.ipam) await step(() => delegate(deps.exec, conf.ipam!.type, 'DEL', req, conf.raw, deps.env));
  if (errors.length) throw errors[0];
  deps.log.debug({ hostVeth, ips }, 'deleted');
}
