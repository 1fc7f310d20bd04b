// What every command needs from the outside world, as seams: tests pass fakes.
import type { HostExec } from '../../lib/exec.ts';
import type { HostView } from '../net/host-view.ts';
import type { CniLogger } from '../log.ts';
import type { NetConf } from '../config.ts';
import type { Ipam } from '../ipam/ipam.ts';
import { BuiltinIpam } from '../ipam/builtin.ts';
import { DelegatedIpam } from '../ipam/delegated.ts';
import type { LinkRunner } from '../net/ip-link.ts';
import type { TeardownQueue } from '../teardown.ts';

export interface Deps {
  exec: HostExec;
  view: HostView;
  log: CniLogger;
  /** The plugin's environment, passed on to a delegated IPAM plugin. */
  env: NodeJS.ProcessEnv;
  /** Link/address/route changes (IpRoute over `exec`, or the agent's batching channel). */
  ip: LinkRunner;
  /**
   * The agent's background teardown: when present, DEL marks the attachment
   * released and leaves the veth deletion (the kernel's RCU wait) and the
   * lease release to it. Absent in the executable: DEL does it all inline.
   */
  teardown?: TeardownQueue;
}

/** The attachment's IPAM: built-in or delegated; undefined when the config has none. */
export function ipamFor(conf: NetConf, deps: Omit<Deps, 'log'>): Ipam | undefined {
  const c = conf.ipam;
  if (!c) return undefined;
  return c.kind === 'builtin' ? new BuiltinIpam(c, conf.name, deps.view.bootId()) : new DelegatedIpam(c, deps.exec, conf.raw, deps.env);
}
