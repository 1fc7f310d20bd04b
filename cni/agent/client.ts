// The thin half of the CNI executable: hand the request to the agent's CNI
// server and bring back its answer. Every way this can fail before an answer
// exists (no socket, connection refused or reset, no ack within ackMs, a
// decline, an unreadable reply) is reported as "fallback", and the caller does
// the work in-process. Only after the agent acknowledged the request (it has
// started the work) is a missing answer an error instead: doing the same ADD
// in-process while the agent still runs it would race it.
import { existsSync } from 'node:fs';
import { decodeReply, type WireReply } from './protocol.ts';

export type Outcome = { kind: 'reply'; reply: Extract<WireReply, { exitCode: number }> } | { kind: 'fallback'; why: string } | { kind: 'timeout'; ms: number };

export interface ExchangeOptions {
  /** Connect + acknowledgement bound: a live agent acks within milliseconds (its event loop turn); seconds mean it is wedged. */
  ackMs: number;
  /** Bound on the answer once the agent has acknowledged. */
  replyMs: number;
}

export const DEFAULT_BOUNDS: ExchangeOptions = { ackMs: 3000, replyMs: 120_000 };

/** A byte stream to the agent; Bun's native socket when compiled, node:net under Node (tests). */
interface Conn {
  write(s: string): void;
  close(): void;
}
type Events = { onData(chunk: string): void; onOpen(c: Conn): void; onGone(why: string): void };

interface BunLike {
  connect(o: unknown): Promise<unknown>;
}

async function open(path: string, ev: Events): Promise<void> {
  const bun = (globalThis as { Bun?: BunLike }).Bun;
  if (bun) {
    // Bun.connect is native: measured ≈ 5 ms less start-up + round trip than node:net in the compiled binary.
    type S = { write(s: Uint8Array): number; end(): void };
    // Bun's write may take only part of the data (it returns how much); the
    // rest goes out on "drain". Without this a request can stall half-sent.
    let rest = new Uint8Array(0);
    const flush = (s: S) => {
      if (!rest.length) return;
      const n = s.write(rest);
      rest = n > 0 ? rest.subarray(n) : rest;
    };
    await bun
      .connect({
        unix: path,
        socket: {
          open: (s: S) =>
            ev.onOpen({
              write: (x) => {
                rest = Buffer.from(x, 'utf8');
                flush(s);
              },
              close: () => s.end(),
            }),
          drain: (s: S) => flush(s),
          data: (_s: S, d: Uint8Array) => ev.onData(Buffer.from(d).toString('utf8')),
          close: () => ev.onGone('connection closed'),
          error: (_s: S, e: Error) => ev.onGone(e.message),
          connectError: (_s: S, e: Error) => ev.onGone(e.message),
        },
      })
      .catch((e: Error) => ev.onGone(e.message));
    return;
  }
  const { createConnection } = await import('node:net');
  const s = createConnection(path);
  s.setEncoding('utf8');
  s.on('connect', () => ev.onOpen({ write: (x) => void s.write(x), close: () => s.destroy() }));
  s.on('data', (d: string) => ev.onData(d));
  s.on('error', (e) => ev.onGone(e.message));
  s.on('close', () => ev.onGone('connection closed'));
}

export function exchange(socketPath: string, requestLine: string, bounds: ExchangeOptions = DEFAULT_BOUNDS): Promise<Outcome> {
  if (!existsSync(socketPath)) return Promise.resolve({ kind: 'fallback', why: `no agent socket at ${socketPath}` });
  return new Promise<Outcome>((resolve) => {
    let conn: Conn | undefined;
    let acked = false;
    let done = false;
    let buf = '';
    let timer: ReturnType<typeof setTimeout>;
    const finish = (o: Outcome) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      conn?.close();
      resolve(o);
    };
    timer = setTimeout(() => finish({ kind: 'fallback', why: `agent did not acknowledge within ${bounds.ackMs} ms` }), bounds.ackMs);
    const onLine = (line: string) => {
      const r = decodeReply(line);
      if (!r) return finish({ kind: 'fallback', why: 'agent reply not understood' });
      if ('decline' in r) return finish({ kind: 'fallback', why: `agent declined: ${r.decline}` });
      if ('ack' in r) {
        acked = true;
        clearTimeout(timer);
        timer = setTimeout(() => finish({ kind: 'timeout', ms: bounds.replyMs }), bounds.replyMs);
        return;
      }
      finish({ kind: 'reply', reply: r });
    };
    void open(socketPath, {
      onOpen: (c) => {
        conn = c;
        if (done) return c.close();
        c.write(requestLine);
      },
      onData: (d) => {
        buf += d;
        for (let i = buf.indexOf('\n'); i >= 0 && !done; i = buf.indexOf('\n')) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          onLine(line);
        }
      },
      // A connection lost after the ack: the agent died mid-request. It no longer
      // runs the request, so doing it in-process cannot race it.
      onGone: (why) => finish({ kind: 'fallback', why: acked ? `agent went away mid-request (${why})` : `agent unreachable (${why})` }),
    });
  });
}
