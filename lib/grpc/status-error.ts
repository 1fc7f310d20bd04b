// Handlers throw GrpcError with the status code their spec names; the handler
// wrapper (handler.ts) is the one place that turns any throw into an answer.
import { status } from '@grpc/grpc-js';

export { status };

export class GrpcError extends Error {
  readonly code: status;
  constructor(code: status, message: string) {
    super(message);
    this.name = 'GrpcError';
    this.code = code;
  }
}

export const invalidArgument = (m: string) => new GrpcError(status.INVALID_ARGUMENT, m);
export const notFound = (m: string) => new GrpcError(status.NOT_FOUND, m);
export const alreadyExists = (m: string) => new GrpcError(status.ALREADY_EXISTS, m);
export const failedPrecondition = (m: string) => new GrpcError(status.FAILED_PRECONDITION, m);
export const outOfRange = (m: string) => new GrpcError(status.OUT_OF_RANGE, m);
export const resourceExhausted = (m: string) => new GrpcError(status.RESOURCE_EXHAUSTED, m);
export const aborted = (m: string) => new GrpcError(status.ABORTED, m);
export const unimplemented = (m: string) => new GrpcError(status.UNIMPLEMENTED, m);
export const internal = (m: string) => new GrpcError(status.INTERNAL, m);

export function codeName(code: status): string {
  return status[code] ?? String(code);
}
