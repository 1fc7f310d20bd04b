// The CNI spec's error codes, and the one error type every CNI code path throws.
// Only the dispatcher (cni/main.ts) turns a CniError into the spec's error JSON.
import { ExecError } from '../lib/exec.ts';
import { errorMessage, errnoCode } from '../lib/errors.ts';

export const Code = {
  IncompatibleVersion: 1,
  UnsupportedField: 2,
  UnknownContainer: 3,
  InvalidEnv: 4,
  IO: 5,
  Decode: 6,
  InvalidConfig: 7,
  TryAgainLater: 11,
  /** STATUS: cannot service ADD. */
  NotAvailable: 50,
  /** STATUS: cannot service ADD, and existing attachments may be degraded. */
  NotAvailableDegraded: 51,
  /** CHECK found the attachment differs from its prevResult (plugin-specific range, 100+). */
  CheckFailed: 100,
  /** Anything we did not classify (the reference plugins use 999 the same way). */
  Internal: 999,
} as const;

export class CniError extends Error {
  readonly code: number;
  readonly details: string;
  constructor(code: number, msg: string, details = '') {
    super(msg);
    this.name = 'CniError';
    this.code = code;
    this.details = details;
  }
}

/** Classify anything thrown below the dispatcher. Host tool and file-system failures are I/O (5). */
export function toCniError(e: unknown): CniError {
  if (e instanceof CniError) return e;
  if (e instanceof ExecError) return new CniError(Code.IO, `${e.file} failed (exit ${e.exitCode})`, e.stderr.trim() || e.message);
  if (errnoCode(e) !== undefined) return new CniError(Code.IO, errorMessage(e));
  return new CniError(Code.Internal, errorMessage(e));
}

export interface ErrorJson {
  cniVersion: string;
  code: number;
  msg: string;
  details?: string;
}

export function errorJson(e: CniError, cniVersion: string): ErrorJson {
  const out: ErrorJson = { cniVersion, code: e.code, msg: e.message };
  if (e.details) out.details = e.details;
  return out;
}
