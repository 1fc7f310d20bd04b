// The executable's client half against a scripted server (node:net here; the
// compiled binary uses Bun.connect with the same contract): every way an
// exchange can end, and the protocol's version rules.
import { describe, it, expect, afterEach } from 'vitest';
import { createServer, type Server, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { exchange } from '../../../cni/agent/client.ts';
import { encodeRequest, decodeRequest, decodeReply } from '../../../cni/agent/protocol.ts';

// Every server a test started and its dir: a test may start more than one.
const servers: Server[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise<void>((r) => s.close(() => r()));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A server that answers each request line with `script(socket)`. */
async function serve(script: (s: Socket, line: string) => void): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'hp-client-'));
  dirs.push(dir);
  const path = join(dir, 's.sock');
  const server = createServer((s) => {
    let buf = '';
    s.setEncoding('utf8');
    s.on('error', () => {});
    s.on('data', (d: string) => {
      buf += d;
      const i = buf.indexOf('\n');
      if (i >= 0) script(s, buf.slice(0, i));
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(path, () => r()));
  return path;
}
const line = encodeRequest({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c', HOME: '/root' }, '{"cniVersion":"1.1.0"}');
const bounds = { ackMs: 300, replyMs: 300 };

describe('agent client', () => {
  it('forwards only the CNI_* variables and stdin', () => {
    const d = decodeRequest(line.trim());
    expect(d).toEqual({ ok: true, value: { 'hostplane-cni': 1, env: { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c' }, stdin: '{"cniVersion":"1.1.0"}' } });
    expect(decodeRequest('{"hostplane-cni":2,"env":{},"stdin":""}')).toMatchObject({ ok: false, why: expect.stringContaining('version 2') });
    expect(decodeReply('{"hostplane-cni":2,"exitCode":0}')).toBeUndefined();
  });
  it('no socket: fallback, without trying to connect', async () => {
    expect(await exchange('/nonexistent/hp.sock', line, bounds)).toMatchObject({ kind: 'fallback', why: expect.stringContaining('no agent socket') });
  });
  it('ack then answer (split across writes): the answer', async () => {
    const p = await serve((s) => {
      s.write('{"hostplane-cni":1,"ack":true}\n{"hostplane-cni":1,"std');
      setTimeout(() => s.end('out":{"a":1},"exitCode":0,"log":["x\\n"]}\n'), 20);
    });
    expect(await exchange(p, line, bounds)).toEqual({ kind: 'reply', reply: { 'hostplane-cni': 1, stdout: { a: 1 }, exitCode: 0, log: ['x\n'] } });
  });
  it('a decline (even after the ack), an unknown protocol version or garbage: fallback', async () => {
    let p = await serve((s) => s.end('{"hostplane-cni":1,"ack":true}\n{"hostplane-cni":1,"decline":"netns outside"}\n'));
    expect(await exchange(p, line, bounds)).toMatchObject({ kind: 'fallback', why: 'agent declined: netns outside' });
    p = await serve((s) => s.end('{"hostplane-cni":7,"exitCode":0}\n'));
    expect(await exchange(p, line, bounds)).toMatchObject({ kind: 'fallback', why: 'agent reply not understood' });
  });
  it('no ack within ackMs: fallback (the agent drops the request when it sees the client gone)', async () => {
    const p = await serve(() => {
      /* silent */
    });
    const t = Date.now();
    expect(await exchange(p, line, bounds)).toMatchObject({ kind: 'fallback', why: expect.stringContaining('did not acknowledge') });
    expect(Date.now() - t).toBeLessThan(3000);
  });
  it('ack then the connection drops (the agent died mid-request): fallback; ack then silence: timeout, never a hang', async () => {
    let p = await serve((s) => {
      s.write('{"hostplane-cni":1,"ack":true}\n');
      setTimeout(() => s.destroy(), 20);
    });
    expect(await exchange(p, line, bounds)).toMatchObject({ kind: 'fallback', why: expect.stringContaining('went away mid-request') });
    p = await serve((s) => s.write('{"hostplane-cni":1,"ack":true}\n'));
    expect(await exchange(p, line, bounds)).toEqual({ kind: 'timeout', ms: 300 });
  });
});
