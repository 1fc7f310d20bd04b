// DEL: undo ADD, succeeding whatever is already gone (the netns, the links, the
// leases): runtimes retry DEL until it succeeds, so it must converge. The host
// veth's name is derived from (container id, ifname), so no saved state is
// needed to find it, and deleting the host end removes the peer with it.
import type { NetConf } from '../config.ts';
import type { CniRequest } from '../request.ts';
import { type Deps, ipamFor } from './deps.ts';
import { BuiltinIpam } from '../ipam/builtin.ts';
import { hostVethName } from '../net/veth.ts';
import { delScript, runNft } from '../net/masq.ts';

export async function del(req: CniRequest, conf: NetConf, deps: Deps): Promise<void> {
  const ipam = ipamFor(conf, deps);
  if (ipam instanceof BuiltinIpam && deps.teardown) {
    // The agent: mark released, schedule the rest, answer. The marks are the
    // durable record a restarted agent (or GC) finishes from.
    ipam.markReleasing(req, conf.ipMasq);
    deps.teardown.schedule({ dataDir: ipam.conf.dataDir, network: conf.name, containerId: req.containerId, ifname: req.ifname });
    return;
  }
  // Which addresses to un-masquerade: our leases, else what ADD reported.
  const ips = ipam?.held(req, conf) ?? [];
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
  // Addresses last: back to the pool only once the veth is gone.
  if (ipam) await step(() => ipam.release(req));
  if (errors.length) throw errors[0];
  deps.log.debug({ hostVeth, ips }, 'deleted');
}
