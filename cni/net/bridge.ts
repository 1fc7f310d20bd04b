// The bridge: created when absent, given its gateway addresses, brought up.
import type { NetConf } from '../config.ts';
import type { HostView } from './host-view.ts';
import type { LinkOp } from './ip-link.ts';
import { bridgeMac } from './veth.ts';
import { CniError, Code } from '../errors.ts';
import { familyOf } from '../../lib/ip-family.ts';

/**
 * Ops that make the bridge ready. Addresses use `replace`, so parallel ADDs
 * that all try to put the gateway on a fresh bridge do not fail with "File
 * exists" (the reference plugin's race). The existence check is a sysfs read;
 * when another process creates the bridge between that read and our batch,
 * the caller retries without the create (see isLinkExistsError).
 */
export function bridgeOps(conf: NetConf, gateways: string[], create: boolean): LinkOp[] {
  const ops: LinkOp[] = [];
  if (create) ops.push({ op: 'bridge-add', name: conf.bridge, mtu: conf.mtu, mac: bridgeMac(conf.bridge) });
  for (const cidr of gateways) ops.push({ op: 'addr-replace', dev: conf.bridge, cidr, nodad: familyOf(cidr) === 6 });
  ops.push({ op: 'link-set', dev: conf.bridge, up: true, ...(conf.promiscMode ? { promisc: true } : {}) });
  return ops;
}

/**
 * Whether the bridge must be created; throws if the name is taken by something
 * that is not a bridge. A bridge a concurrent ADD has just created shows in
 * /sys/class/net a moment before its bridge/ directory does, so "exists but
 * not a bridge" is believed only once it lasts (isBridgeSettled).
 */
export async function bridgeNeeded(conf: NetConf, view: HostView): Promise<boolean> {
  if (!view.linkExists(conf.bridge)) return true;
  if (!(await isBridgeSettled(conf.bridge, view))) throw new CniError(Code.InvalidConfig, `invalid config: bridge "${conf.bridge}" exists and is not a bridge`);
  return false;
}

/** isBridge, asked again for up to `ms` while the answer is "no" (see bridgeNeeded). */
export async function isBridgeSettled(name: string, view: HostView, ms = 200): Promise<boolean> {
  for (const end = Date.now() + ms; ; ) {
    if (view.isBridge(name)) return true;
    if (Date.now() >= end || !view.linkExists(name)) return false;
    await new Promise((r) => setTimeout(r, 5));
  }
}

export function isLinkExistsError(stderr: string): boolean {
  return /File exists/i.test(stderr);
}
