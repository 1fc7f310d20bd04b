// The fake API server as a process of its own, for test beds whose agents run
// in other network namespaces: it is started inside a test namespace (where it
// listens on an address the "nodes" reach) and controlled over a unix socket in
// a temp dir, which every namespace of the machine can reach through the file
// system. Control API (JSON): PUT /nodes (a Node), DELETE /nodes/NAME,
// POST /drop-watches, POST /compact, GET /state.
// Usage: node fake-apiserver-main.ts --host ADDR --port N --dir DIR --control SOCK
import { createServer } from 'node:http';
import { rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startFakeApiServer, type FakeNode } from './fake-apiserver.ts';

const { values } = parseArgs({
  options: { host: { type: 'string' }, port: { type: 'string' }, dir: { type: 'string' }, control: { type: 'string' }, bookmarkMs: { type: 'string' } },
});
const api = await startFakeApiServer({ dir: values.dir!, host: values.host!, port: Number(values.port ?? 0), bookmarkMs: Number(values.bookmarkMs ?? 1000) });

const body = (req: import('node:http').IncomingMessage) =>
  new Promise<string>((resolve) => {
    let s = '';
    req.on('data', (d) => (s += d));
    req.on('end', () => resolve(s));
  });

const control = createServer(async (req, res) => {
  const reply = (o: unknown) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(o));
  };
  const url = req.url ?? '/';
  if (req.method === 'PUT' && url === '/nodes')
    return reply({ rv: api.upsert(JSON.parse(await body(req)) as FakeNode), at: performance.timeOrigin + performance.now() });
  const del = /^\/nodes\/([^/]+)$/.exec(url);
  if (req.method === 'DELETE' && del) return reply({ rv: api.remove(decodeURIComponent(del[1]!)), at: performance.timeOrigin + performance.now() });
  if (req.method === 'POST' && url === '/drop-watches') {
    api.dropWatches();
    return reply({});
  }
  if (req.method === 'POST' && url === '/compact') {
    api.compact();
    return reply({});
  }
  if (req.method === 'GET' && url === '/state') return reply({ watches: api.openWatches(), requests: api.requests });
  res.writeHead(404);
  res.end();
});
rmSync(values.control!, { force: true });
control.listen(values.control!, () => {
  process.stdout.write(`${JSON.stringify({ url: api.url, caFile: api.caFile, tokenFile: api.tokenFile })}\n`);
});
const stop = () => {
  control.close();
  void api.close().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// The test runner going away (stdin closed) ends us too: nothing is left behind.
process.stdin.on('end', stop);
process.stdin.resume();
