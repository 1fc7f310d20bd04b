// The skel: CNI_* environment + stdin → typed request and config → one
// command → the reply object and exit code. It writes nothing; cni/main.ts
// owns stdout and the exit code.
import { CniError, Code, toCniError, errorJson } from './errors.ts';
import { parseNetConf, peekVersion, type NetConf } from './config.ts';
import { parseCommand, parseRequest, type Command, type CniRequest } from './request.ts';
import { convertResult, compareVersions, isSupportedVersion } from './result.ts';
import { createCniLogger, type CniLogger } from './log.ts';
import type { Deps } from './commands/deps.ts';
import { add } from './commands/add.ts';
import { del } from './commands/del.ts';
import { check } from './commands/check.ts';
import { status } from './commands/status.ts';
import { gc } from './commands/gc.ts';
import { version } from './commands/version.ts';

export interface Reply {
  /** The JSON document for stdout, or undefined for "print nothing". */
  stdout?: unknown;
  exitCode: number;
  /** Set when a gate refused to serve the request here (the agent: "do it in-process"). */
  decline?: string;
}

export interface DispatchOptions {
  /**
   * Where log lines go instead of stderr + the config's logFile (the agent
   * collects them and the client writes them, so the agent never opens a path
   * a request names).
   */
  logSink?: (line: string) => void;
  /** One line logged first through the request's logger (the client's fallback note). */
  note?: { msg: string; why: string };
  /** Called once the request is parsed; a string declines it (nothing is done). */
  gate?: (req: CniRequest, conf: NetConf) => string | undefined;
  /** Called with the parsed request, for the caller's per-request bookkeeping (metrics, the log line). */
  onParsed?: (req: CniRequest, conf: NetConf) => void;
}

/** The oldest config version each command exists in. */
const SINCE: Partial<Record<Command, string>> = { CHECK: '0.4.0', STATUS: '1.1.0', GC: '1.1.0' };

export type MakeDeps = (log: CniLogger) => Omit<Deps, 'log'>;

export async function dispatch(env: NodeJS.ProcessEnv, stdin: Buffer, makeDeps: MakeDeps, opts: DispatchOptions = {}): Promise<Reply> {
  const { logSink } = opts;
  const started = Date.now();
  const asked = peekVersion(stdin);
  let replyVersion = asked && isSupportedVersion(asked) ? asked : '1.1.0';
  let log: CniLogger = createCniLogger({ level: 'info', ...(logSink ? { write: logSink } : {}) });
  let command: Command | undefined;
  try {
    command = parseCommand(env);
    if (command === 'VERSION') return { stdout: version(asked), exitCode: 0 };
    const req = parseRequest(command, env);
    const conf: NetConf = parseNetConf(stdin);
    replyVersion = conf.cniVersion;
    log = createCniLogger(
      { level: conf.logLevel, ...(logSink ? { write: logSink } : conf.logFile ? { file: conf.logFile } : {}) },
      {
        cmd: command,
        network: conf.name,
        ...(req.containerId ? { containerId: req.containerId, ifname: req.ifname } : {}),
        ...(req.args.podName ? { pod: `${req.args.podNamespace ?? ''}/${req.args.podName}` } : {}),
      },
    );
    if (opts.note) log.info({ why: opts.note.why }, opts.note.msg);
    opts.onParsed?.(req, conf);
    const declined = opts.gate?.(req, conf);
    if (declined !== undefined) return { exitCode: 0, decline: declined };
    const since = SINCE[command];
    if (since && compareVersions(conf.cniVersion, since) < 0) {
      throw new CniError(
        Code.IncompatibleVersion,
        `config version ${conf.cniVersion} does not allow ${command}`,
        `${command} needs cniVersion ${since} or later`,
      );
    }
    const deps: Deps = { ...makeDeps(log), log };
    let stdout: unknown;
    switch (command) {
      case 'ADD':
        stdout = convertResult(await add(req, conf, deps), conf.cniVersion);
        break;
      case 'DEL':
        await del(req, conf, deps);
        break;
      case 'CHECK':
        await check(req, conf, deps);
        break;
      case 'STATUS':
        await status(req, conf, deps);
        break;
      case 'GC':
        await gc(req, conf, deps);
        break;
    }
    if (command !== 'STATUS') log.info({ ms: Date.now() - started }, `${command} done`);
    return { stdout, exitCode: 0 };
  } catch (e) {
    const err = toCniError(e);
    log.error({ cmd: command, code: err.code, details: err.details || undefined, ms: Date.now() - started }, err.message);
    return { stdout: errorJson(err, replyVersion), exitCode: 1 };
  }
}
