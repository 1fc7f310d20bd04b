// The CNI executable's logger. It writes the same JSON lines as pino (level
// numbers, time, pid, name, msg) to stderr and optionally a log file, with
// synchronous writes: the process lives ~20 ms, and importing pino alone cost
// ~10 ms of start-up in the compiled binary, which is half of the budget.
// stdout is never touched: it belongs to the CNI protocol.
import { openSync, writeSync, closeSync } from 'node:fs';
import { LOG_LEVELS, type LogLevel } from '../lib/log-levels.ts';

// pino's numbers for the one list of level names (lib/log-levels.ts).
const LEVELS: Record<LogLevel, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };
export type LevelName = LogLevel;
export const LEVEL_NAMES: readonly LevelName[] = LOG_LEVELS;

type LogFn = (objOrMsg: object | string, msg?: string) => void;

/** The subset of pino's Logger that the CNI code uses. */
export interface CniLogger {
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  child(bindings: Record<string, unknown>): CniLogger;
}

export interface CniLoggerOptions {
  level?: LevelName;
  file?: string;
  /** Defaults to fd 2; tests pass a sink. */
  write?: (line: string) => void;
}

export function createCniLogger(opts: CniLoggerOptions = {}, bindings: Record<string, unknown> = {}): CniLogger {
  const threshold = LEVELS[opts.level ?? 'info'];
  let fileFd: number | undefined;
  if (opts.file) {
    try {
      fileFd = openSync(opts.file, 'a', 0o600);
    } catch {
      // An unwritable log file must not fail the operation that asked for it.
    }
  }
  const write =
    opts.write ??
    ((line: string) => {
      try {
        writeSync(2, line);
      } catch {
        /* stderr closed: nothing to do */
      }
      if (fileFd !== undefined) {
        try {
          writeSync(fileFd, line);
        } catch {
          /* same */
        }
      }
    });
  const make = (b: Record<string, unknown>): CniLogger => {
    const at =
      (lvl: number): LogFn =>
      (objOrMsg, msg) => {
        if (lvl < threshold) return;
        const fields = typeof objOrMsg === 'string' ? {} : serialise(objOrMsg);
        const text = typeof objOrMsg === 'string' ? objOrMsg : msg;
        write(`${JSON.stringify({ level: lvl, time: Date.now(), pid: process.pid, name: 'hostplane-cni', ...b, ...fields, msg: text })}\n`);
      };
    return {
      trace: at(10),
      debug: at(20),
      info: at(30),
      warn: at(40),
      error: at(50),
      child: (more) => make({ ...b, ...more }),
    };
  };
  const root = make(bindings);
  if (fileFd !== undefined)
    process.once('exit', () => {
      try {
        closeSync(fileFd!);
      } catch {
        /* closed */
      }
    });
  return root;
}

// Errors do not JSON-serialise; pino's `err` convention is kept.
function serialise(o: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) out[k] = v instanceof Error ? { type: v.name, message: v.message } : v;
  return out;
}
