// Every gRPC method goes through wrapUnary/wrapServerStream. grpc-js calls a
// handler inside a synchronous try/catch, so a rejected promise from an async
// handler would escape it and could kill the process; here every throw is
// caught, logged once with method, ids, duration and code, and answered.
import type * as grpc from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import type { Logger } from '../logging.ts';
import { GrpcError, codeName } from './status-error.ts';
import { errorMessage } from '../errors.ts';

/** Observer for metrics: called once per finished call. */
export type CallObserver = (method: string, code: string, seconds: number) => void;

export interface WrapOptions {
  log: Logger;
  observe?: CallObserver;
  /** Request fields worth a log line (volume_id, name...); never secrets. */
  logFields?: readonly string[];
}

function pick(req: unknown, fields: readonly string[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!fields || typeof req !== 'object' || req === null) return out;
  for (const f of fields) {
    const v = (req as Record<string, unknown>)[f];
    if (v !== undefined && v !== '') out[f] = v;
  }
  return out;
}

function toServiceError(e: unknown): grpc.ServiceError {
  const code = e instanceof GrpcError ? e.code : status.INTERNAL;
  const err = new Error(errorMessage(e)) as grpc.ServiceError;
  err.code = code;
  err.details = errorMessage(e);
  return err;
}

export type UnaryImpl<Req, Res> = (req: Req, call: grpc.ServerUnaryCall<Req, Res>) => Promise<Res> | Res;

export function wrapUnary<Req, Res>(method: string, impl: UnaryImpl<Req, Res>, opts: WrapOptions): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const start = process.hrtime.bigint();
    const fields = pick(call.request, opts.logFields);
    const finish = (e: unknown, res?: Res) => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const se = e === undefined ? undefined : toServiceError(e);
      const code = codeName(se?.code ?? status.OK);
      opts.observe?.(method, code, seconds);
      const line = { method, ...fields, ms: Math.round(seconds * 1e4) / 10, code };
      if (se) {
        if (se.code === status.INTERNAL || se.code === status.UNKNOWN) opts.log.error({ ...line, err: errorMessage(e) }, 'call failed');
        else opts.log.info({ ...line, err: se.details }, 'call');
        callback(se);
      } else {
        opts.log.info(line, 'call');
        callback(null, res);
      }
    };
    try {
      Promise.resolve(impl(call.request, call)).then(
        (res) => finish(undefined, res),
        (e: unknown) => finish(e),
      );
    } catch (e) {
      finish(e);
    }
  };
}

export type StreamImpl<Req, Res> = (req: Req, call: grpc.ServerWritableStream<Req, Res>) => Promise<void> | void;

/** Server-streaming: the impl owns the stream until it resolves; a throw ends the stream with a status. */
export function wrapServerStream<Req, Res>(method: string, impl: StreamImpl<Req, Res>, opts: WrapOptions): grpc.handleServerStreamingCall<Req, Res> {
  return (call) => {
    const start = process.hrtime.bigint();
    opts.log.info({ method, ...pick(call.request, opts.logFields) }, 'stream opened');
    const fail = (e: unknown) => {
      const se = toServiceError(e);
      opts.observe?.(method, codeName(se.code), Number(process.hrtime.bigint() - start) / 1e9);
      opts.log.error({ method, code: codeName(se.code), err: errorMessage(e) }, 'stream failed');
      try {
        call.destroy(se);
      } catch {
        /* stream already gone */
      }
    };
    try {
      Promise.resolve(impl(call.request, call)).then(() => opts.observe?.(method, 'OK', Number(process.hrtime.bigint() - start) / 1e9), fail);
    } catch (e) {
      fail(e);
    }
  };
}
