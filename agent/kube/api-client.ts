// The two requests the agent makes of the Kubernetes API — a GET of a JSON
// document and a WATCH stream of JSON lines — over node:https. This replaced
// @kubernetes/client-node: its generated models and serializer are loaded
// whole by any import of it (config.js and cache.js both pull gen/index.js),
// and cost the agent ~30 MiB resident for two calls.
//
// Only https API servers: a bearer token is never sent in clear text. TLS is
// verified against the configured CA file.
import { request, Agent } from 'node:https';
import type { IncomingMessage } from 'node:http';
import { readFileSync } from 'node:fs';
import type { KubernetesConfig } from '../config.ts';

/** An error answer of the API (a non-2xx status, or an ERROR event of a watch). */
export class KubeApiError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.name = 'KubeApiError';
    this.code = code;
  }
}

export interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

export interface WatchStream {
  /** Resolves when the stream ends: cleanly (server timeout, dropped connection) or on an error. */
  done: Promise<void>;
  /** End the stream now (done then resolves). */
  abort(): void;
}

/** Where the API server is, checked: https only. */
export function apiOrigin(cfg: KubernetesConfig): URL {
  const url = new URL(cfg.apiServer);
  if (url.protocol !== 'https:') throw new Error(`kubernetes.apiServer ${cfg.apiServer}: only https:// API servers are supported`);
  return new URL(url.origin);
}

/** The largest non-watch response accepted (a Node LIST of 5,000 full Nodes is ~50 MB). */
const MAX_BODY = 256 * 1024 * 1024;

export class KubeClient {
  private readonly origin: URL;
  private token = '';
  private tokenReadAt = 0;
  private agent: Agent | undefined;
  private caReadAt = 0;

  private readonly cfg: KubernetesConfig;
  private readonly now: () => number;

  constructor(cfg: KubernetesConfig, now: () => number = Date.now) {
    this.cfg = cfg;
    this.now = now;
    this.origin = apiOrigin(cfg);
  }

  /** GET a JSON document (e.g. /api/v1/nodes). */
  async get<T>(path: string, signal?: AbortSignal): Promise<T> {
    const res = await this.send(path, signal);
    const onAbort = () => res.destroy(new Error('aborted'));
    signal?.addEventListener('abort', onAbort, { once: true });
    const body = await readBody(res).finally(() => signal?.removeEventListener('abort', onAbort));
    if (res.statusCode !== 200) throw this.statusError(res.statusCode ?? 0, body);
    return JSON.parse(body) as T;
  }

  /**
   * Open a watch (path with ?watch=true...) and hand each event to onEvent.
   * Rejects if the server refuses it (a non-200 status: KubeApiError); once
   * open, ends when the server ends it, the connection drops, no byte came
   * for inactivityMs, or abort() is called.
   */
  async watch<T>(path: string, onEvent: (e: WatchEvent<T>) => void, inactivityMs: number, signal?: AbortSignal): Promise<WatchStream> {
    const ac = new AbortController();
    const onAbort = () => ac.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    // No byte (not even the response head or a bookmark) for this long: the connection is presumed dead.
    const timer = setTimeout(() => ac.abort(), inactivityMs);
    let res: IncomingMessage;
    try {
      res = await this.send(path, ac.signal);
      if (res.statusCode !== 200) throw this.statusError(res.statusCode ?? 0, await readBody(res));
    } catch (e) {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      throw e;
    }
    timer.refresh();
    res.setEncoding('utf8');
    const onStreamAbort = () => res.destroy();
    if (ac.signal.aborted) res.destroy();
    else ac.signal.addEventListener('abort', onStreamAbort, { once: true });
    const done = new Promise<void>((resolve) => {
      let buf = '';
      const finish = () => {
        clearTimeout(timer);
        ac.signal.removeEventListener('abort', onStreamAbort);
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      res.on('data', (chunk: string) => {
        timer.refresh();
        buf += chunk;
        let nl = buf.indexOf('\n');
        while (nl >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (line) {
            let ev: WatchEvent<T>;
            try {
              ev = JSON.parse(line) as WatchEvent<T>;
            } catch {
              // A garbled line: the stream cannot be trusted from here; resume from the last good version.
              ac.abort();
              return;
            }
            onEvent(ev);
            if (ac.signal.aborted) return;
          }
          nl = buf.indexOf('\n');
        }
      });
      res.on('end', finish);
      res.on('close', finish);
      res.on('error', finish);
    });
    return { done, abort: () => ac.abort() };
  }

  private statusError(code: number, body: string): KubeApiError {
    let msg = '';
    try {
      msg = (JSON.parse(body) as { message?: string; reason?: string }).message ?? '';
    } catch {
      // not a Status object
    }
    return new KubeApiError(code, `API server answered ${code}${msg ? `: ${msg}` : ''}`);
  }

  // Aborting is done by hand rather than with request()'s `signal`: that one
  // destroys the request with an error even after its response has ended,
  // which then surfaces as an uncaught AbortError.
  private send(path: string, signal?: AbortSignal): Promise<IncomingMessage> {
    const token = this.bearer();
    const headers: Record<string, string> = { accept: 'application/json' };
    if (token) headers.authorization = `Bearer ${token}`;
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(new Error('aborted'));
      const req = request(new URL(path, this.origin), { method: 'GET', headers, agent: this.tlsAgent() }, (res) => {
        signal?.removeEventListener('abort', onAbort);
        // A rejected token may have been rotated on disk: read it again next time.
        if (res.statusCode === 401) this.token = '';
        resolve(res);
      });
      const onAbort = () => req.destroy(new Error('aborted'));
      signal?.addEventListener('abort', onAbort, { once: true });
      req.on('error', (e) => {
        signal?.removeEventListener('abort', onAbort);
        reject(e);
      });
      req.end();
    });
  }

  /**
   * The service-account token, re-read once a minute (projected tokens are
   * rotated on disk; client-go re-reads at the same pace), at every request
   * while there is none, and trimmed: a file ending in a newline must not put
   * one into the header. No file: anonymous (the apiserver answers 401/403,
   * which the caller logs and retries).
   */
  private bearer(): string {
    if (!this.token || this.now() - this.tokenReadAt > 60_000) {
      try {
        this.token = readFileSync(this.cfg.tokenFile, 'utf8').trim();
      } catch {
        this.token = '';
      }
      this.tokenReadAt = this.now();
    }
    return this.token;
  }

  /** One keep-alive agent trusting the CA file, re-read every 10 minutes (a rotated CA bundle is picked up). */
  private tlsAgent(): Agent {
    if (!this.agent || this.now() - this.caReadAt > 600_000) {
      let ca: Buffer | undefined;
      try {
        ca = readFileSync(this.cfg.caFile);
      } catch {
        // No CA file: the system roots; an API server with a private CA then fails verification (logged, retried).
      }
      this.agent?.destroy();
      this.agent = new Agent({ ca, keepAlive: true, maxSockets: 4, rejectUnauthorized: true });
      this.caReadAt = this.now();
    }
    return this.agent;
  }

  close(): void {
    this.agent?.destroy();
    this.agent = undefined;
  }
}

function readBody(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    res.on('data', (b: Buffer) => {
      size += b.length;
      if (size > MAX_BODY) res.destroy(new Error(`API response larger than ${MAX_BODY} bytes`));
      else parts.push(b);
    });
    res.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    res.on('error', reject);
    res.on('aborted', () => reject(new Error('API response cut short')));
  });
}
