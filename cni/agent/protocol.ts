// The wire protocol between the CNI executable (client) and the agent's CNI
// server: one request per unix-socket connection, newline-delimited JSON.
//
//   client → {"hostplane-cni":1,"env":{CNI_*},"stdin":"<netconf>"}\n
//   agent  → {"hostplane-cni":1,"ack":true}\n          written before any work starts
//   agent  → {"hostplane-cni":1,"stdout":…,"exitCode":n,"log":["<json line>",…]}\n
//   or     → {"hostplane-cni":1,"decline":"why"}\n    instead of the ack: "do it yourself"
//
// Versioning: a side that meets a version it does not speak declines (agent) or
// treats the answer as a decline (client), and the client then does the work
// in-process: a client and an agent of different versions (a rolling update)
// always work, never hang. This file is imported by the compiled executable:
// it must stay free of imports.
export const PROTOCOL_VERSION = 1;
export const VERSION_KEY = 'hostplane-cni';

/** Where the agent listens unless the network config names another socket (`agentSocket`). */
export const DEFAULT_SOCKET = '/run/hostplane/cni.sock';

/** Only these variables travel: they are the whole CNI contract. */
export const FORWARDED_ENV = ['CNI_COMMAND', 'CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_ARGS', 'CNI_PATH'] as const;

export interface WireRequest {
  [VERSION_KEY]: number;
  env: Record<string, string>;
  stdin: string;
}

export type WireReply =
  | { [VERSION_KEY]: number; ack: true }
  | { [VERSION_KEY]: number; decline: string }
  | { [VERSION_KEY]: number; stdout?: unknown; exitCode: number; log?: string[] };

/** Bytes a request line may have; anything longer is not a CNI request. */
export const MAX_REQUEST_BYTES = 4 * 1024 * 1024;

export function encodeRequest(env: Record<string, string | undefined>, stdin: string): string {
  const e: Record<string, string> = {};
  for (const k of FORWARDED_ENV) {
    const v = env[k];
    if (v !== undefined) e[k] = v;
  }
  const req: WireRequest = { [VERSION_KEY]: PROTOCOL_VERSION, env: e, stdin };
  return `${JSON.stringify(req)}\n`;
}

export type Decoded<T> = { ok: true; value: T } | { ok: false; why: string };

/** The agent's view of a request line: a wrong version or shape is a decline, never a crash. */
export function decodeRequest(line: string): Decoded<WireRequest> {
  let o: unknown;
  try {
    o = JSON.parse(line);
  } catch {
    return { ok: false, why: 'request is not JSON' };
  }
  if (typeof o !== 'object' || o === null) return { ok: false, why: 'request is not an object' };
  const r = o as Record<string, unknown>;
  if (r[VERSION_KEY] !== PROTOCOL_VERSION)
    return { ok: false, why: `protocol version ${JSON.stringify(r[VERSION_KEY])} not spoken (agent speaks ${PROTOCOL_VERSION})` };
  if (typeof r.stdin !== 'string' || typeof r.env !== 'object' || r.env === null) return { ok: false, why: 'request lacks env or stdin' };
  const env: Record<string, string> = {};
  for (const k of FORWARDED_ENV) {
    const v = (r.env as Record<string, unknown>)[k];
    if (typeof v === 'string') env[k] = v;
  }
  return { ok: true, value: { [VERSION_KEY]: PROTOCOL_VERSION, env, stdin: r.stdin } };
}

/** The client's view of a reply line; anything unexpected means "fall back". */
export function decodeReply(line: string): WireReply | undefined {
  try {
    const o = JSON.parse(line) as Record<string, unknown>;
    if (typeof o !== 'object' || o === null || o[VERSION_KEY] !== PROTOCOL_VERSION) return undefined;
    if (o.ack === true) return o as WireReply;
    if (typeof o.decline === 'string') return o as WireReply;
    if (typeof o.exitCode === 'number') return o as WireReply;
    return undefined;
  } catch {
    return undefined;
  }
}
