// A stand-in for the Kubernetes API: HTTPS on 127.0.0.1 with a throwaway
// self-signed certificate, answering GET /api/v1/nodes/NAME from a mutable
// Node object and checking the bearer token like the real one would.
import { createServer, type Server } from 'node:https';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';

export interface FakeApiServer {
  url: string;
  caFile: string;
  tokenFile: string;
  node: { metadata: { name: string }; spec: { podCIDRs?: string[] } };
  requests: string[];
  close(): Promise<void>;
}

export async function startFakeApiServer(dir: string, nodeName: string, podCIDRs: string[]): Promise<FakeApiServer> {
  const key = join(dir, 'api.key');
  const cert = join(dir, 'api.crt');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=fake-apiserver', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  const tokenFile = join(dir, 'token');
  execFileSync('sh', ['-c', `printf 'sekret-token\\n' > '${tokenFile}'`]);
  const api: FakeApiServer = {
    url: '', caFile: cert, tokenFile,
    node: { metadata: { name: nodeName }, spec: { podCIDRs } },
    requests: [],
    close: async () => {},
  };
  const server: Server = createServer({ key: readFileSync(key), cert: readFileSync(cert) }, (req, res) => {
    api.requests.push(`${req.method} ${req.url}`);
    if (req.headers.authorization !== 'Bearer sekret-token') {
      res.writeHead(401, { 'content-type': 'application/json' });
      return res.end('{"kind":"Status","code":401}');
    }
    if (req.url === `/api/v1/nodes/${nodeName}`) {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ kind: 'Node', apiVersion: 'v1', ...api.node }));
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"kind":"Status","code":404}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  api.url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  api.close = () => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); });
  return api;
}
