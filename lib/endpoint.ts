// The one rule for gRPC endpoints on a node: a unix socket at an absolute
// path, written `unix:///abs/path`, `unix:/abs/path` or bare `/abs/path`
// (kubelet, csi-sanity and the CSI sidecars all accept these forms).
import type { Rule } from './fields.ts';

/** The socket path of an endpoint, or undefined when it is not a unix endpoint with an absolute path. */
export function unixSocketPath(endpoint: string): string | undefined {
  const p = endpoint.replace(/^unix:\/\//, '').replace(/^unix:/, '');
  return p.startsWith('/') && !/\s/.test(p) ? p : undefined;
}

export const UNIX_ENDPOINT: Rule = { pattern: { test: (s) => unixSocketPath(s) !== undefined }, what: 'unix:///absolute/path' };
