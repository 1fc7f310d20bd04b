// One unary gRPC call over a unix socket with a hard deadline, on a fresh
// channel each time: a cached channel could report a connection that the
// server behind the socket no longer answers on. Used by the liveness checks
// to ask each component the cheapest question its own API has.
import * as grpc from '@grpc/grpc-js';
import { loadProto, lookup } from '../../lib/grpc/proto.ts';

export async function probeUnary(socket: string, protoFile: string, service: string, method: string, deadlineMs: number): Promise<unknown> {
  const ctor = lookup<grpc.ServiceClientConstructor>(loadProto(protoFile), service);
  // Authority localhost, as kubelet and csi-sanity dial (Node's http2 rejects a path).
  const client = new ctor(`unix://${socket}`, grpc.credentials.createInsecure(), { 'grpc.default_authority': 'localhost' }) as unknown as grpc.Client &
    Record<string, (req: object, opts: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r: unknown) => void) => void>;
  try {
    return await new Promise((resolve, reject) => {
      client[method]!.call(client, {}, { deadline: Date.now() + deadlineMs }, (e, r) =>
        e ? reject(new Error(`${method}: ${e.details || e.message}`)) : resolve(r),
      );
    });
  } finally {
    client.close();
  }
}
