// STATUS: polled by the runtime every few seconds, so it execs nothing — a
// directory access check and a directory listing at most.
import { CniError, Code } from '../errors.ts';
import type { NetConf } from '../config.ts';
import type { CniRequest } from '../request.ts';
import { type Deps, allocatorFor } from './deps.ts';
import { delegate } from '../ipam/delegate.ts';

export async function status(req: CniRequest, conf: NetConf, deps: Deps): Promise<void> {
  const alloc = allocatorFor(conf, deps);
  if (alloc) {
    if (!alloc.store.accessible()) throw new CniError(Code.NotAvailableDegraded, `lease store ${alloc.store.dir} is not readable and writable`);
    let exhausted: boolean;
    try {
      exhausted = alloc.exhausted();
    } catch (e) {
      throw new CniError(Code.NotAvailableDegraded, `lease store ${alloc.store.dir} is unreadable`, (e as Error).message);
    }
    if (exhausted) throw new CniError(Code.NotAvailable, `address pool of network ${conf.name} is exhausted`);
  } else if (conf.ipam) {
    await delegate(deps.exec, conf.ipam.type, 'STATUS', req, conf.raw, deps.env);
  }
}
