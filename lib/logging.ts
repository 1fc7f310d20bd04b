// One logger factory for every entry point. Logs are JSON on stderr: a CNI
// plugin's stdout belongs to the protocol, and the long-running servers follow
// the same rule so one log pipeline fits all of them.
import pino, { type Logger, type DestinationStream } from 'pino';
import { openSync } from 'node:fs';

export type { Logger };

export interface LoggerOptions {
  name: string;
  level?: string;
  /** Also append to this file (CNI `logFile`); stderr is always written. */
  file?: string;
}

// Field paths that may carry secrets (CSI secrets maps, tokens) are never written.
const REDACT = ['secrets', '*.secrets', 'req.secrets', 'request.secrets', 'token', '*.token', 'password', '*.password', 'authorization', '*.authorization'];

export function createLogger(opts: LoggerOptions): Logger {
  const level = opts.level ?? process.env.HOSTPLANE_LOG_LEVEL ?? 'info';
  const streams: { stream: DestinationStream }[] = [{ stream: pino.destination({ fd: 2, sync: true }) }];
  if (opts.file) {
    try {
      streams.push({ stream: pino.destination({ fd: openSync(opts.file, 'a', 0o600), sync: true }) });
    } catch {
      // An unwritable log file must not fail the operation that asked for it.
    }
  }
  return pino(
    { name: opts.name, level, redact: { paths: REDACT, censor: '[redacted]' }, base: { pid: process.pid } },
    streams.length === 1 ? streams[0]!.stream : pino.multistream(streams),
  );
}

/** A logger that discards everything, for unit tests and fakes. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
