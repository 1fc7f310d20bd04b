// A gRPC server bound to a Unix socket. A socket file left by a crashed
// predecessor is removed first (bind would otherwise fail with EADDRINUSE),
// but only when nothing answers on it: a live socket belongs to another
// process (a second agent, an old one still draining), and taking it over
// would silently cut that process off from kubelet.
import * as grpc from '@grpc/grpc-js';
import { mkdir, rm, lstat } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import { unixSocketPath } from '../endpoint.ts';

export interface UnixServer {
  server: grpc.Server;
  path: string;
  /** Stop accepting calls, wait briefly for in-flight ones, then remove the socket. */
  close(graceMs?: number): Promise<void>;
}

/** The socket path of an endpoint (lib/endpoint.ts has the rule). */
export function socketPathFromEndpoint(endpoint: string): string {
  const p = unixSocketPath(endpoint);
  if (p === undefined) throw new Error(`endpoint ${endpoint} must be an absolute unix socket path`);
  return p;
}

export class SocketInUseError extends Error {
  constructor(path: string) {
    super(`${path} is served by another live process; refusing to take it over (is a second agent running?)`);
    this.name = 'SocketInUseError';
  }
}

/**
 * Whether something accepts connections on the socket. ECONNREFUSED (no
 * listener: its process died) means stale; a connect that neither succeeds
 * nor fails within timeoutMs counts as live (a listener with a full backlog).
 */
export function socketAnswers(path: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(path);
    const done = (live: boolean) => {
      clearTimeout(t);
      sock.destroy();
      resolve(live);
    };
    const t = setTimeout(() => done(true), timeoutMs);
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

async function removeStaleSocket(path: string): Promise<void> {
  try {
    const st = await lstat(path);
    if (!st.isSocket()) throw new Error(`${path} exists and is not a socket`);
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return;
    throw e;
  }
  if (await socketAnswers(path)) throw new SocketInUseError(path);
  await rm(path, { force: true });
}

export async function serveUnix(path: string, register: (server: grpc.Server) => void, options: grpc.ServerOptions = {}): Promise<UnixServer> {
  await mkdir(dirname(path), { recursive: true });
  await removeStaleSocket(path);
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 16 * 1024 * 1024, ...options });
  register(server);
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${path}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
  return {
    server,
    path,
    async close(graceMs = 2000) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(t);
          resolve();
        });
      });
      await rm(path, { force: true });
    },
  };
}
