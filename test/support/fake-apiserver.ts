// A stand-in for the Kubernetes API's Node resource that speaks the real
// protocol a client-go/client-node reflector relies on: HTTPS with a bearer
// token, LIST with a collection resourceVersion, WATCH from a resourceVersion
// (events after it, then live), BOOKMARK events when allowWatchBookmarks is
// set, and "410 Gone" (an ERROR event) when asked to resume from a version that
// has been compacted away. Tests mutate the Node set through upsert/remove and
// can cut every watch or compact the history to force a reconnect or relist.
import { createServer, type Server } from 'node:https';
import type { ServerResponse } from 'node:http';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';

export interface FakeNode {
  metadata: { name: string; resourceVersion?: string; uid?: string };
  spec?: { podCIDR?: string; podCIDRs?: string[] };
  status?: { addresses?: { type: string; address: string }[] };
}

export interface FakeApiServer {
  url: string;
  caFile: string;
  tokenFile: string;
  /** Request lines seen, e.g. "GET /api/v1/nodes?watch=true&..." */
  requests: string[];
  /** Time (performance.now()) each resourceVersion was written to the open watches. */
  sentAt: Map<number, number>;
  upsert(node: FakeNode): number;
  remove(name: string): number;
  get(name: string): FakeNode | undefined;
  /** End every open watch stream (as an apiserver restart or a dropped connection would). */
  dropWatches(): void;
  /** Forget the event history: a watch resuming from any version seen so far gets 410 Gone. */
  compact(): void;
  openWatches(): number;
  close(): Promise<void>;
}

export interface FakeApiOptions {
  dir: string;
  /** Address to listen on (default 127.0.0.1); the certificate names it. */
  host?: string;
  port?: number;
  bookmarkMs?: number;
  token?: string;
}

/** A throwaway CA-less self-signed certificate for `host`. */
export function makeCert(dir: string, host: string): { key: string; cert: string } {
  const key = join(dir, 'api.key');
  const cert = join(dir, 'api.crt');
  const san = host.includes(':') ? `IP:${host}` : /^[0-9.]+$/.test(host) ? `IP:${host}` : `DNS:${host}`;
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=fake-apiserver',
      '-addext',
      `subjectAltName=${san}`,
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  );
  return { key, cert };
}

interface Event {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: FakeNode;
}

export async function startFakeApiServer(opts: FakeApiOptions): Promise<FakeApiServer> {
  const host = opts.host ?? '127.0.0.1';
  const token = opts.token ?? 'sekret-token';
  const { key, cert } = makeCert(opts.dir, host);
  const tokenFile = join(opts.dir, 'token');
  writeFileSync(tokenFile, `${token}\n`);

  let rv = 100;
  let oldest = rv; // events with rv > oldest are retained
  const nodes = new Map<string, FakeNode>();
  let history: Event[] = [];
  const watches = new Set<ServerResponse>();
  const sentAt = new Map<number, number>();
  const requests: string[] = [];

  const line = (res: ServerResponse, ev: unknown) => res.write(`${JSON.stringify(ev)}\n`);
  const publish = (ev: Event) => {
    history.push(ev);
    for (const w of watches) line(w, { type: ev.type, object: ev.object });
    sentAt.set(ev.rv, performance.now());
  };
  const full = (n: FakeNode): FakeNode => ({ kind: 'Node', apiVersion: 'v1', ...n }) as FakeNode;

  const server: Server = createServer({ key: readFileSync(key), cert: readFileSync(cert) }, (req, res) => {
    requests.push(`${req.method} ${req.url}`);
    if ((req.headers.authorization ?? '').trim() !== `Bearer ${token}`) {
      res.writeHead(401, { 'content-type': 'application/json' });
      return res.end('{"kind":"Status","apiVersion":"v1","status":"Failure","code":401,"reason":"Unauthorized"}');
    }
    const url = new URL(req.url ?? '/', 'https://x');
    const one = /^\/api\/v1\/nodes\/([^/]+)$/.exec(url.pathname);
    if (one) {
      const n = nodes.get(decodeURIComponent(one[1]!));
      res.writeHead(n ? 200 : 404, { 'content-type': 'application/json' });
      return res.end(JSON.stringify(n ? full(n) : { kind: 'Status', code: 404, reason: 'NotFound' }));
    }
    if (url.pathname !== '/api/v1/nodes') {
      res.writeHead(404, { 'content-type': 'application/json' });
      return res.end('{"kind":"Status","code":404}');
    }
    if (url.searchParams.get('watch') !== 'true') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ kind: 'NodeList', apiVersion: 'v1', metadata: { resourceVersion: String(rv) }, items: [...nodes.values()].map(full) }));
    }
    const from = Number(url.searchParams.get('resourceVersion') || rv);
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    if (from < oldest) {
      line(res, {
        type: 'ERROR',
        object: { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 410, reason: 'Expired', message: `too old resource version: ${from} (${oldest})` },
      });
      return res.end();
    }
    for (const ev of history) if (ev.rv > from) line(res, { type: ev.type, object: ev.object });
    watches.add(res);
    let timer: NodeJS.Timeout | undefined;
    if (url.searchParams.get('allowWatchBookmarks') === 'true') {
      timer = setInterval(
        () => line(res, { type: 'BOOKMARK', object: { kind: 'Node', apiVersion: 'v1', metadata: { resourceVersion: String(rv) } } }),
        opts.bookmarkMs ?? 1000,
      );
    }
    const end = () => {
      watches.delete(res);
      if (timer) clearInterval(timer);
    };
    res.on('close', end);
    req.on('close', end);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  const api: FakeApiServer = {
    url: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    caFile: cert,
    tokenFile,
    requests,
    sentAt,
    upsert(node) {
      const existed = nodes.has(node.metadata.name);
      rv++;
      const stored: FakeNode = structuredClone({ ...node, metadata: { ...node.metadata, resourceVersion: String(rv), uid: `uid-${node.metadata.name}` } });
      nodes.set(node.metadata.name, stored);
      publish({ rv, type: existed ? 'MODIFIED' : 'ADDED', object: full(stored) });
      return rv;
    },
    remove(name) {
      const n = nodes.get(name);
      if (!n) return rv;
      nodes.delete(name);
      rv++;
      publish({ rv, type: 'DELETED', object: full({ ...n, metadata: { ...n.metadata, resourceVersion: String(rv) } }) });
      return rv;
    },
    get: (name) => nodes.get(name),
    dropWatches() {
      for (const w of [...watches]) {
        watches.delete(w);
        w.destroy();
      }
    },
    compact() {
      // Everything up to now is gone: any resume, even from the latest version, gets 410.
      // (Writes to other resources advance the revision too: a LIST now returns a newer one, which is valid.)
      history = [];
      rv++;
      oldest = rv;
    },
    openWatches: () => watches.size,
    close: () =>
      new Promise<void>((resolve) => {
        api.dropWatches();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  return api;
}

/** A Node object as the controller-manager and kubelet fill it in. */
export function nodeObject(name: string, podCIDRs: string[], addresses: string[]): FakeNode {
  return {
    metadata: { name },
    spec: { podCIDR: podCIDRs[0], podCIDRs },
    status: { addresses: [...addresses.map((a) => ({ type: 'InternalIP', address: a })), { type: 'Hostname', address: name }] },
  };
}
