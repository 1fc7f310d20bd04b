// The in-process path of the CNI executable: used when no agent answers (or
// for VERSION). Loaded lazily by cni/main.ts so the agent path never pays for
// evaluating the datapath code.
import { dispatch, type Reply } from './dispatch.ts';
import { SpawnExec } from './spawn-exec.ts';
import { RealHostView } from './net/host-view.ts';
import { IpRoute } from './net/ip-link.ts';

export function runStandalone(env: NodeJS.ProcessEnv, stdin: Buffer, fallbackWhy: string | undefined): Promise<Reply> {
  return dispatch(env, stdin, () => {
    const exec = new SpawnExec();
    return { exec, view: new RealHostView(), env, ip: new IpRoute(exec) };
  }, fallbackWhy === undefined ? {} : { note: { msg: 'no hostplane agent answered; running in-process', why: fallbackWhy } });
}
