// HostExec for the CNI executable on node:child_process. lib/exec.ts's
// RealExec (execa) is the project's default, but importing execa costs ~40 ms
// of start-up in the compiled binary — more than the whole kernel work of an
// ADD — so the short-lived plugin uses this small equivalent. Same contract:
// argument arrays only, non-zero exit throws ExecError unless allowFail.
import { spawn } from 'node:child_process';
import { type HostExec, type ExecOptions, type ExecResult, ExecError, inNetns } from '../lib/exec.ts';
import { SBIN_DIRS } from '../lib/sbin-path.ts';

export class SpawnExec implements HostExec {
  private readonly env: Record<string, string>;
  constructor(base: NodeJS.ProcessEnv = process.env) {
    // Runtimes exec plugins with a minimal environment: make the sbin dirs searchable.
    const path = (base.PATH ?? '').split(':').filter(Boolean);
    this.env = { ...(base as Record<string, string>), PATH: [...path, ...SBIN_DIRS.filter((d) => !path.includes(d))].join(':'), LC_ALL: 'C' };
  }

  run(file: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const [cmd, argv] = opts.netns ? inNetns(opts.netns, file, args) : [file, [...args]];
    return new Promise((resolve, reject) => {
      const child = spawn(cmd, argv, {
        env: opts.env ? { ...this.env, ...opts.env } : this.env,
        stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      });
      const out: Buffer[] = [],
        err: Buffer[] = [];
      child.stdout!.on('data', (d: Buffer) => out.push(d));
      child.stderr!.on('data', (d: Buffer) => err.push(d));
      const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(new ExecError(cmd, argv, -1, e.message));
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        const res = { stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), exitCode: code ?? -1 };
        if (code === null) reject(new ExecError(cmd, argv, -1, 'killed (timeout)'));
        else if (code !== 0 && !opts.allowFail) reject(new ExecError(cmd, argv, code, res.stderr || res.stdout));
        else resolve(res);
      });
      if (opts.input !== undefined) {
        child.stdin!.on('error', () => {
          /* the tool exited early; its exit code tells the story */
        });
        child.stdin!.end(opts.input);
      }
    });
  }
}
