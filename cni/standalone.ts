// The in-process path of the CNI executable: used when no agent answers (or
// for VERSION). Loaded lazily by cni/main.ts so the agent path never pays for
// evaluating the datapath code.
import { dispatch, type Reply } from './dispatch.ts';
import { SpawnExec } from './spawn-exec.ts';
import { RealHostView } from './net/host-view.ts';
import { IpRoute, type LinkRunner } from './net/ip-link.ts';

export async function runStandalone(env: NodeJS.ProcessEnv, stdin: Buffer, fallbackWhy: string | undefined): Promise<Reply> {
  const exec = new SpawnExec();
  let ip: LinkRunner = new IpRoute(exec);
  // Compiled by bun: addresses, routes, link up and link delete over netlink in-process (no exec).
  const changesLinks = ['ADD', 'DEL', 'CHECK', 'GC'].includes(env.CNI_COMMAND ?? '');
  if (changesLinks && (globalThis as { Bun?: unknown }).Bun) ip = new (await import('./net/netlink-runner.ts')).NetlinkRunner(ip);
  return dispatch(
    env,
    stdin,
    () => {
      return { exec, view: new RealHostView(), env, ip };
    },
    fallbackWhy === undefined ? {} : { note: { msg: 'no hostplane agent answered; running in-process', why: fallbackWhy } },
  );
}
