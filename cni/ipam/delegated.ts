// A delegated IPAM plugin behind the Ipam interface: each call execs the
// plugin found on CNI_PATH with the same stdin and CNI_* environment.
import { CniError, Code } from '../errors.ts';
import type { DelegateIpam, NetConf } from '../config.ts';
import type { CniRequest } from '../request.ts';
import type { IpConfig } from '../result.ts';
import type { HostExec } from '../../lib/exec.ts';
import type { Ip } from './ip.ts';
import { delegate } from './delegate.ts';
import type { Ipam, IpamAllocation } from './ipam.ts';

export class DelegatedIpam implements Ipam {
  private readonly plugin: string;
  private readonly exec: HostExec;
  private readonly stdin: Buffer;
  private readonly env: NodeJS.ProcessEnv;
  constructor(conf: DelegateIpam, exec: HostExec, stdin: Buffer, env: NodeJS.ProcessEnv) {
    this.plugin = conf.type;
    this.exec = exec;
    this.stdin = stdin;
    this.env = env;
  }

  async allocate(req: CniRequest, _requested: Ip[]): Promise<IpamAllocation> {
    const r = await delegate(this.exec, this.plugin, 'ADD', req, this.stdin, this.env);
    const out: IpamAllocation = { ips: r?.ips ?? [], routes: r?.routes ?? [] };
    if (r?.dns) out.dns = r.dns;
    if (out.ips.length === 0) throw new CniError(Code.InvalidConfig, `invalid config: IPAM plugin ${this.plugin} returned no addresses`);
    return out;
  }

  async release(req: CniRequest): Promise<void> {
    await delegate(this.exec, this.plugin, 'DEL', req, this.stdin, this.env);
  }

  held(_req: CniRequest, conf: NetConf): string[] {
    return (conf.prevResult?.ips ?? []).map((i) => i.address);
  }

  async check(req: CniRequest, _mine: IpConfig[]): Promise<void> {
    await delegate(this.exec, this.plugin, 'CHECK', req, this.stdin, this.env);
  }

  async status(req: CniRequest): Promise<void> {
    await delegate(this.exec, this.plugin, 'STATUS', req, this.stdin, this.env);
  }

  async gc(req: CniRequest): Promise<undefined> {
    await delegate(this.exec, this.plugin, 'GC', req, this.stdin, this.env);
    return undefined;
  }
}
