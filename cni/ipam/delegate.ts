// Any ipam.type other than "hostplane" is an IPAM plugin found on CNI_PATH and
// exec'd with the same stdin and CNI_* environment (the spec's delegation).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { HostExec } from '../../lib/exec.ts';
import { CniError, Code } from '../errors.ts';
import type { CniRequest, Command } from '../request.ts';
import { type Result, parseResult } from '../result.ts';
import { isSafeName } from '../../lib/names.ts';

export function findPlugin(type: string, path: string[]): string {
  if (!isSafeName(type)) throw new CniError(Code.InvalidConfig, `invalid config: ipam.type "${type}" is not a plugin name`);
  for (const dir of path) {
    const p = join(dir, type);
    if (existsSync(p)) return p;
  }
  throw new CniError(Code.InvalidConfig, `invalid config: ipam.type "${type}": no such plugin in CNI_PATH`, path.join(':'));
}

export async function delegate(
  exec: HostExec,
  type: string,
  command: Command,
  req: CniRequest,
  stdin: Buffer,
  env: NodeJS.ProcessEnv,
): Promise<Result | undefined> {
  const bin = findPlugin(type, req.path);
  const childEnv: Record<string, string> = {
    CNI_COMMAND: command,
    CNI_CONTAINERID: req.containerId,
    CNI_NETNS: req.netns,
    CNI_IFNAME: req.ifname,
    CNI_ARGS: env.CNI_ARGS ?? '',
    CNI_PATH: req.path.join(':'),
  };
  const r = await exec.run(bin, [], { input: stdin.toString('utf8'), env: childEnv, allowFail: true });
  if (r.exitCode !== 0) {
    // Pass the delegate's own error through with its code, as libcni would show it.
    let parsed: { code?: unknown; msg?: unknown; details?: unknown } | undefined;
    try {
      parsed = JSON.parse(r.stdout || r.stderr);
    } catch {
      parsed = undefined;
    }
    if (parsed && typeof parsed.code === 'number') {
      throw new CniError(parsed.code, `ipam plugin ${type}: ${String(parsed.msg ?? '')}`, typeof parsed.details === 'string' ? parsed.details : '');
    }
    throw new CniError(Code.IO, `ipam plugin ${type} ${command} exited ${r.exitCode}`, (r.stderr || r.stdout).trim());
  }
  if (command !== 'ADD') return undefined;
  try {
    return parseResult(JSON.parse(r.stdout), `ipam plugin ${type} result`);
  } catch (e) {
    if (e instanceof CniError) throw e;
    throw new CniError(Code.Decode, `ipam plugin ${type} returned a result that is not JSON`, r.stdout.slice(0, 200));
  }
}
