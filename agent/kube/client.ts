// A minimal Kubernetes API client: the agent reads exactly one object (its
// own Node), so it speaks plain HTTPS with the pod's service-account token
// instead of pulling in @kubernetes/client-node (dozens of dependencies, a
// bundle several MB larger, for one GET). The token is re-read on every
// request because projected service-account tokens are rotated on disk.
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { readFile } from 'node:fs/promises';
import { isNotFound } from '../../lib/errors.ts';
import type { KubernetesConfig } from '../config.ts';

export interface NodeObject {
  metadata?: { name?: string; resourceVersion?: string };
  spec?: { podCIDR?: string; podCIDRs?: string[] };
}

export interface KubeClient {
  getNode(name: string): Promise<NodeObject>;
}

export class KubeApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'KubeApiError';
    this.status = status;
  }
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

export class InClusterClient implements KubeClient {
  private readonly cfg: KubernetesConfig;
  private readonly timeoutMs: number;
  constructor(cfg: KubernetesConfig, timeoutMs = 10_000) {
    this.cfg = cfg;
    this.timeoutMs = timeoutMs;
  }

  async getNode(name: string): Promise<NodeObject> {
    return (await this.get(`/api/v1/nodes/${encodeURIComponent(name)}`)) as NodeObject;
  }

  private async get(path: string): Promise<unknown> {
    const url = new URL(path, this.cfg.apiServer);
    const token = (await readOptional(this.cfg.tokenFile))?.trim();
    const headers: Record<string, string> = { accept: 'application/json' };
    if (token) headers.authorization = `Bearer ${token}`;
    const secure = url.protocol === 'https:';
    const ca = secure ? await readOptional(this.cfg.caFile) : undefined;
    const req = secure ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const r = req(url, { method: 'GET', headers, ca, timeout: this.timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          if (status < 200 || status >= 300) {
            reject(new KubeApiError(status, `GET ${url.pathname}: HTTP ${status}: ${body.slice(0, 300)}`));
            return;
          }
          try {
            resolve(JSON.parse(body));
          } catch {
            reject(new KubeApiError(status, `GET ${url.pathname}: response is not JSON`));
          }
        });
      });
      r.on('timeout', () => r.destroy(new Error(`GET ${url.pathname}: no answer in ${this.timeoutMs} ms`)));
      r.on('error', reject);
      r.end();
    });
  }
}

/** spec.podCIDRs (dual-stack), falling back to the older single spec.podCIDR. */
export function podCidrsOf(node: NodeObject): string[] {
  const list = node.spec?.podCIDRs;
  if (Array.isArray(list) && list.length) return list.filter((c): c is string => typeof c === 'string');
  return node.spec?.podCIDR ? [node.spec.podCIDR] : [];
}
