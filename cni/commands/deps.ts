// What every command needs from the outside world, as seams: tests pass fakes.
import type { HostExec } from '../../lib/exec.ts';
import type { HostView } from '../net/host-view.ts';
import type { CniLogger } from '../log.ts';
import type { NetConf, HostplaneIpam } from '../config.ts';
import { Allocator } from '../ipam/allocator.ts';

export interface Deps {
  exec: HostExec;
  view: HostView;
  log: CniLogger;
  /** The plugin's environment, passed on to a delegated IPAM plugin. */
  env: NodeJS.ProcessEnv;
}

export function builtinIpam(conf: NetConf): HostplaneIpam | undefined {
  return conf.ipam?.type === 'hostplane' ? (conf.ipam as HostplaneIpam) : undefined;
}

export function allocatorFor(conf: NetConf, deps: Deps): Allocator | undefined {
  const ipam = builtinIpam(conf);
  return ipam ? new Allocator(ipam, conf.name, deps.view.bootId()) : undefined;
}
