// A stand-in for kubelet's device manager, for tests and the bench. It does
// what kubelet does: serves Registration on <dir>/kubelet.sock; inside
// Register dials the plugin's socket back (with a timeout), asks
// GetDevicePluginOptions and opens ListAndWatch, all before answering;
// Allocate carries exactly one container request; restart() wipes the socket
// files of the dir and recreates kubelet.sock, as a real kubelet start does.
import * as grpc from '@grpc/grpc-js';
import { EventEmitter } from 'node:events';
import { readdirSync, lstatSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { loadProto, lookup } from '../../lib/grpc/proto.ts';
import { serveUnix, type UnixServer } from '../../lib/grpc/unix-server.ts';
import { wrapUnary } from '../../lib/grpc/handler.ts';
import { invalidArgument, failedPrecondition, GrpcError, status } from '../../lib/grpc/status-error.ts';
import { silentLogger } from '../../lib/logging.ts';

export interface KDevice {
  ID: string;
  health: string;
  topology: { nodes: Array<{ ID: number }> } | null;
}
export interface ListUpdate {
  at: number;
  devices: KDevice[];
}

export interface PluginConn {
  resource: string;
  endpoint: string;
  options: { pre_start_required: boolean; get_preferred_allocation_available: boolean };
  client: grpc.Client & Record<string, (...a: unknown[]) => unknown>;
  updates: ListUpdate[];
  registeredAt: number;
  streamEnded: boolean;
  stream: grpc.ClientReadableStream<{ devices: KDevice[] }>;
}

const RESOURCE_RE = /^[a-z0-9.-]+\.[a-z0-9-]+\/[A-Za-z0-9][-A-Za-z0-9_.]*$/;

function pkg() {
  return loadProto('deviceplugin/v1beta1/api.proto');
}

export class FakeKubelet extends EventEmitter {
  readonly dir: string;
  readonly plugins = new Map<string, PluginConn>();
  /** Every successful Register, in order. */
  readonly registrations: Array<{ resource: string; endpoint: string; at: number }> = [];
  private server: UnixServer | undefined;
  private readonly dialTimeoutMs: number;
  /** Refuse this many Register calls (UNAVAILABLE), as a kubelet still starting up might. */
  refuseRegistrations = 0;
  /** Register calls refused so far. */
  refused = 0;

  private constructor(dir: string, dialTimeoutMs: number) {
    super();
    this.dir = dir;
    this.dialTimeoutMs = dialTimeoutMs;
  }

  static async start(dir: string, opts: { dialTimeoutMs?: number } = {}): Promise<FakeKubelet> {
    const k = new FakeKubelet(dir, opts.dialTimeoutMs ?? 10_000);
    await k.serve();
    return k;
  }

  get socketPath(): string {
    return join(this.dir, 'kubelet.sock');
  }

  private async serve(): Promise<void> {
    const svc = lookup<grpc.ServiceClientConstructor>(pkg(), 'v1beta1.Registration').service;
    this.server = await serveUnix(this.socketPath, (s) => {
      s.addService(svc, {
        Register: wrapUnary('kubelet.Register', (req: { version: string; endpoint: string; resource_name: string }) => this.register(req), {
          log: silentLogger(),
        }),
      });
    });
  }

  private async register(req: { version: string; endpoint: string; resource_name: string }): Promise<object> {
    if (this.refuseRegistrations > 0) {
      this.refuseRegistrations--;
      this.refused++;
      throw new GrpcError(status.UNAVAILABLE, 'device manager not ready');
    }
    if (req.version !== 'v1beta1') throw invalidArgument(`unsupported device plugin API version ${req.version}`);
    if (!RESOURCE_RE.test(req.resource_name)) throw invalidArgument(`invalid resource name ${req.resource_name}`);
    if (!req.endpoint || req.endpoint.includes('/')) throw invalidArgument(`endpoint must be a file name in ${this.dir}`);
    const Client = lookup<grpc.ServiceClientConstructor>(pkg(), 'v1beta1.DevicePlugin');
    const client = new Client(`unix://${join(this.dir, req.endpoint)}`, grpc.credentials.createInsecure()) as PluginConn['client'];
    const deadline = Date.now() + this.dialTimeoutMs;
    try {
      await new Promise<void>((res, rej) => client.waitForReady(deadline, (e) => (e ? rej(e) : res())));
    } catch (e) {
      client.close();
      throw failedPrecondition(`cannot dial plugin ${req.endpoint}: ${(e as Error).message}`);
    }
    const options = await new Promise<PluginConn['options']>((res, rej) =>
      (client.GetDevicePluginOptions as (r: object, o: object, cb: (e: Error | null, v: PluginConn['options']) => void) => void)({}, { deadline }, (e, v) =>
        e ? rej(e) : res(v),
      ),
    );
    // A second registration of the same resource replaces the first, as in kubelet.
    this.dropPlugin(req.resource_name);
    const stream = (client.ListAndWatch as (r: object) => grpc.ClientReadableStream<{ devices: KDevice[] }>)({});
    const conn: PluginConn = {
      resource: req.resource_name,
      endpoint: req.endpoint,
      options,
      client,
      updates: [],
      registeredAt: Date.now(),
      streamEnded: false,
      stream,
    };
    stream.on('data', (m: { devices: KDevice[] }) => {
      conn.updates.push({ at: Date.now(), devices: m.devices });
      this.emit('update', conn);
    });
    const ended = () => {
      if (!conn.streamEnded) {
        conn.streamEnded = true;
        this.emit('streamEnd', conn);
      }
    };
    stream.on('error', ended);
    stream.on('end', ended);
    this.plugins.set(req.resource_name, conn);
    this.registrations.push({ resource: req.resource_name, endpoint: req.endpoint, at: conn.registeredAt });
    this.emit('registered', conn);
    return {};
  }

  private dropPlugin(resource: string): void {
    const old = this.plugins.get(resource);
    if (!old) return;
    this.plugins.delete(resource);
    old.stream.cancel();
    old.client.close();
  }

  private conn(resource: string): PluginConn {
    const c = this.plugins.get(resource);
    if (!c) throw new Error(`fake kubelet: ${resource} is not registered`);
    return c;
  }

  /** The most recent ListAndWatch list of a resource (undefined before the first). */
  latest(resource: string): KDevice[] | undefined {
    return this.plugins.get(resource)?.updates.at(-1)?.devices;
  }

  allocate(resource: string, ids: string[]): Promise<{ container_responses: Array<Record<string, unknown>> }> {
    const c = this.conn(resource);
    return new Promise((res, rej) =>
      (c.client.Allocate as (r: object, cb: (e: grpc.ServiceError | null, v: { container_responses: Array<Record<string, unknown>> }) => void) => void)(
        { container_requests: [{ devices_ids: ids }] },
        (e, v) => (e ? rej(e) : res(v)),
      ),
    );
  }

  preferred(resource: string, available: string[], mustInclude: string[], size: number): Promise<string[]> {
    const c = this.conn(resource);
    return new Promise((res, rej) =>
      (
        c.client.GetPreferredAllocation as (
          r: object,
          cb: (e: grpc.ServiceError | null, v: { container_responses: Array<{ deviceIDs: string[] }> }) => void,
        ) => void
      )({ container_requests: [{ available_deviceIDs: available, must_include_deviceIDs: mustInclude, allocation_size: size }] }, (e, v) =>
        e ? rej(e) : res(v.container_responses[0]!.deviceIDs),
      ),
    );
  }

  /** Resolve when `pred` holds, checked now and on every event; reject after timeoutMs. */
  waitFor<T>(pred: () => T | undefined | false, timeoutMs = 2000, what = 'condition'): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        let v: T | undefined | false;
        try {
          v = pred();
        } catch {
          v = undefined;
        }
        if (v !== undefined && v !== false) {
          cleanup();
          resolve(v);
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`fake kubelet: timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const poll = setInterval(check, 5);
      const cleanup = () => {
        clearTimeout(timer);
        clearInterval(poll);
        this.off('update', check);
        this.off('registered', check);
        this.off('streamEnd', check);
      };
      this.on('update', check);
      this.on('registered', check);
      this.on('streamEnd', check);
      check();
    });
  }

  /** kubelet going down: its socket and every plugin connection gone. */
  async stop(): Promise<void> {
    for (const r of [...this.plugins.keys()]) this.dropPlugin(r);
    const s = this.server;
    this.server = undefined;
    await s?.close(100);
  }

  /** A kubelet restart: stop, delete every socket file in the dir (not other files), serve kubelet.sock again. */
  async restart(): Promise<void> {
    await this.stop();
    for (const name of readdirSync(this.dir)) {
      const p = join(this.dir, name);
      try {
        if (lstatSync(p).isSocket()) rmSync(p, { force: true });
      } catch {
        /* raced away */
      }
    }
    await this.serve();
  }

  async close(): Promise<void> {
    await this.stop();
  }
}
