// What every command needs from the outside world, as seams: tests pass fakes.
import type { HostExec } from '../../lib/exec.ts';
import type { HostView } from '../net/host-view.ts';
import type { CniLogger } from '../log.ts';
import type { NetConf, HostplaneIpam } from '../config.ts';
import { Allocator } from '../ipam/allocator.ts';
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

export function builtinIpam(conf: NetConf): HostplaneIpam | undefined {
  return conf.ipam?.type === 'hostplane' ? (conf.ipam as HostplaneIpam) : undefined;
}

export function allocatorFor(conf: NetConf, deps: Deps): Allocator | undefined {
  const ipam = builtinIpam(conf);
  return ipam ? new Allocator(ipam, conf.name, deps.view.bootId()) : undefined;
}
