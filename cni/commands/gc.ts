// GC: release every lease and host artefact of this network that belongs to
// no attachment in cni.dev/valid-attachments — what a missed DEL (crash, lost
// node state) left behind.
import type { NetConf } from '../config.ts';
import type { CniRequest } from '../request.ts';
import { type Deps, ipamFor } from './deps.ts';
import { hostVethName, HOST_VETH_RE } from '../net/veth.ts';
import { gcScript, runNft } from '../net/masq.ts';

export async function gc(req: CniRequest, conf: NetConf, deps: Deps): Promise<void> {
  // libcni leaves the key out when nothing is valid (cnitool's plain `gc`, which
  // has already DEL'd every cached attachment), so absent means "none".
  const valid = conf.validAttachments ?? [];
  // Links first, addresses after: an address returns to the pool only once
  // the veth that carried it is gone.
  const live = new Set(valid.map((v) => hostVethName(v.containerID, v.ifname)));
  const stale = deps.view.bridgePorts(conf.bridge).filter((p) => HOST_VETH_RE.test(p) && !live.has(p));
  if (stale.length) {
    await deps.ip.applyForce(stale.map((dev) => ({ op: 'link-del' as const, dev })));
    deps.log.info({ stale }, 'gc deleted veths');
  }
  const kept = await ipamFor(conf, deps)?.gc(
    req,
    valid.map((v) => ({ containerId: v.containerID, ifname: v.ifname })),
  );
  if (kept && conf.ipMasq) await runNft(deps.exec, gcScript(conf.name, kept));
}
