import { describe, it, expect, afterEach } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { wrapUnary } from '../../../lib/grpc/handler.ts';
import { GrpcError, status } from '../../../lib/grpc/status-error.ts';
import { serveUnix, socketPathFromEndpoint, type UnixServer } from '../../../lib/grpc/unix-server.ts';
import { servePluginRegistration, registrationService } from '../../../lib/grpc/plugin-registration.ts';
import { silentLogger } from '../../../lib/logging.ts';

// The plugin-registration service doubles as a small real service to drive the wrapper.
const Client = grpc.makeGenericClientConstructor(registrationService(), 'Registration');
type Cb = (e: grpc.ServiceError | null, r?: Record<string, unknown>) => void;
function call(addr: string, method: string, req: object): Promise<Record<string, unknown>> {
  const c = new Client(`unix://${addr}`, grpc.credentials.createInsecure()) as unknown as Record<string, (r: object, cb: Cb) => void> & grpc.Client;
  return new Promise((resolve, reject) =>
    c[method]!(req, (e, r) => {
      c.close();
      e ? reject(e) : resolve(r!);
    }),
  );
}

describe('wrapUnary', () => {
  const dirs: string[] = [];
  const servers: UnixServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close(100)));
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  async function serve(impl: (req: unknown) => unknown): Promise<{ sock: string; seen: string[] }> {
    const dir = mkdtempSync(join(tmpdir(), 'hp-grpc-'));
    dirs.push(dir);
    const sock = join(dir, 's.sock');
    const seen: string[] = [];
    const opts = { log: silentLogger(), observe: (m: string, code: string) => seen.push(`${m}:${code}`) };
    servers.push(
      await serveUnix(sock, (s) =>
        s.addService(registrationService(), {
          GetInfo: wrapUnary('GetInfo', impl as never, opts),
          NotifyRegistrationStatus: wrapUnary('Notify', impl as never, opts),
        }),
      ),
    );
    return { sock, seen };
  }

  it('answers a typed error with its status code', async () => {
    const { sock, seen } = await serve(() => {
      throw new GrpcError(status.NOT_FOUND, 'volume x not found');
    });
    await expect(call(sock, 'GetInfo', {})).rejects.toMatchObject({ code: status.NOT_FOUND, details: 'volume x not found' });
    expect(seen).toEqual(['GetInfo:NOT_FOUND']);
  });

  it('maps a rejected promise to INTERNAL and the server keeps serving', async () => {
    let n = 0;
    const { sock } = await serve(async () => {
      if (n++ === 0) throw new Error('disk on fire');
      return { type: 'CSIPlugin', name: 'ok', endpoint: '/x', supported_versions: [] };
    });
    await expect(call(sock, 'GetInfo', {})).rejects.toMatchObject({ code: status.INTERNAL });
    expect(await call(sock, 'GetInfo', {})).toMatchObject({ name: 'ok' });
  });

  it('returns the resolved value', async () => {
    const { sock, seen } = await serve(async () => ({}));
    expect(await call(sock, 'NotifyRegistrationStatus', { plugin_registered: true })).toEqual({});
    expect(seen).toEqual(['Notify:OK']);
  });
});

describe('serveUnix', () => {
  it('replaces a stale socket and removes its socket on close', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hp-sock-'));
    try {
      const sock = join(dir, 'r.sock');
      // A predecessor killed with SIGKILL leaves its socket file behind.
      const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(sock)})`]);
      for (let i = 0; i < 200 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 10));
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      expect(existsSync(sock)).toBe(true);
      const b = await servePluginRegistration({
        socketPath: sock,
        info: { type: 'DevicePlugin', name: 'a/b', endpoint: 'x.sock', supported_versions: ['v1beta1'] },
        log: silentLogger(),
      });
      expect(await call(sock, 'GetInfo', {})).toMatchObject({ type: 'DevicePlugin', name: 'a/b', supported_versions: ['v1beta1'] });
      await b.close(100);
      expect(existsSync(sock)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a socket another live process serves, and leaves it answering', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hp-sock-'));
    const info = (name: string) => ({ type: 'DevicePlugin' as const, name, endpoint: 'x.sock', supported_versions: ['v1beta1'] });
    try {
      const sock = join(dir, 'live.sock');
      const first = await servePluginRegistration({ socketPath: sock, info: info('first/one'), log: silentLogger() });
      try {
        await expect(servePluginRegistration({ socketPath: sock, info: info('second/one'), log: silentLogger() })).rejects.toThrow(
          /live\.sock is served by another live process/,
        );
        expect(await call(sock, 'GetInfo', {})).toMatchObject({ name: 'first/one' });
      } finally {
        await first.close(100);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('parses unix endpoints and rejects relative ones', () => {
    expect(socketPathFromEndpoint('unix:///run/x.sock')).toBe('/run/x.sock');
    expect(socketPathFromEndpoint('unix:/run/x.sock')).toBe('/run/x.sock');
    expect(() => socketPathFromEndpoint('unix://x.sock')).toThrow(/absolute/);
  });
});
