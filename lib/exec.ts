// The one seam through which hostplane drives host tools (ip, nft, losetup,
// mount, mkfs...). Arguments are always arrays: no shell ever parses them.
import { SBIN_DIRS } from './sbin-path.ts';

// Loaded at the first tool run, not at start: a CSI driver whose mounts and
// loop devices go through its helper may run no tool for hours, and execa's
// module graph is a few MiB resident in every process that imports it.
let execaModule: Promise<typeof import('execa')> | undefined;
const loadExeca = () => (execaModule ??= import('execa'));

export interface ExecOptions {
  /** Text written to the tool's stdin (e.g. an `ip -batch -` script). */
  input?: string;
  /** Run inside the network namespace at this path (any path, via nsenter). */
  netns?: string;
  timeoutMs?: number;
  /** Return a non-zero exit as a result instead of throwing. */
  allowFail?: boolean;
  /** Extra environment variables for the tool (e.g. CNI_* for a delegated plugin). */
  env?: Record<string, string>;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface HostExec {
  run(file: string, args: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
}

export class ExecError extends Error {
  readonly file: string;
  readonly args: readonly string[];
  readonly exitCode: number;
  readonly stderr: string;
  constructor(file: string, args: readonly string[], exitCode: number, stderr: string) {
    super(`${file} ${args.join(' ')} exited ${exitCode}: ${stderr.trim() || '(no output)'}`);
    this.name = 'ExecError';
    this.file = file;
    this.args = args;
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}

/** Wrap a command so it runs inside the netns at `path` (ip's -n only takes names under /run/netns). */
export function inNetns(path: string, file: string, args: readonly string[]): [string, string[]] {
  return ['nsenter', [`--net=${path}`, '--', file, ...args]];
}

export class RealExec implements HostExec {
  private readonly env: Record<string, string>;
  constructor() {
    // Runtimes exec plugins with a minimal environment; make sure the sbin dirs are searchable.
    const path = process.env.PATH ?? '';
    const extra = SBIN_DIRS.filter((d) => !path.split(':').includes(d));
    this.env = { PATH: [path, ...extra].filter(Boolean).join(':'), LC_ALL: 'C' };
  }

  async run(file: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const [cmd, argv] = opts.netns ? inNetns(opts.netns, file, args) : [file, [...args]];
    const { execa } = await loadExeca();
    const r = await execa(cmd, argv, {
      input: opts.input,
      stdin: opts.input === undefined ? 'ignore' : 'pipe',
      reject: false,
      timeout: opts.timeoutMs ?? 60_000,
      env: opts.env ? { ...this.env, ...opts.env } : this.env,
      extendEnv: true,
      stripFinalNewline: false,
    });
    const exitCode = typeof r.exitCode === 'number' ? r.exitCode : -1;
    const res = { stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? ''), exitCode };
    if (r.failed && exitCode === -1) {
      // Spawn failure (ENOENT for a missing tool) or timeout: never a "result".
      throw new ExecError(cmd, argv, exitCode, r.shortMessage ?? r.message ?? 'spawn failed');
    }
    if (exitCode !== 0 && !opts.allowFail) throw new ExecError(cmd, argv, exitCode, res.stderr || res.stdout);
    return res;
  }
}
