// STATUS: polled by the runtime every few seconds, so it execs nothing — a
// directory access check and a directory listing at most.
import type { NetConf } from '../config.ts';
import type { CniRequest } from '../request.ts';
import { type Deps, ipamFor } from './deps.ts';

export async function status(req: CniRequest, conf: NetConf, deps: Deps): Promise<void> {
  await ipamFor(conf, deps)?.status(req);
}
