// Loads daemonset/ the way `kubectl apply -k` sees it: the resources listed
// in kustomization.yaml plus the ConfigMap its generator makes. Small enough
// to emulate here, so the tests need neither kubectl nor a cluster.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments, parse } from 'yaml';

export const DAEMONSET_DIR = join(import.meta.dirname, '..', '..', '..', 'daemonset');

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [k: string]: unknown;
}

export interface LoadedObject {
  file: string;
  index: number;
  obj: K8sObject;
}

interface Kustomization {
  resources?: string[];
  configMapGenerator?: Array<{ name: string; namespace?: string; files?: string[]; options?: { labels?: Record<string, string> } }>;
}

export function readKustomization(): Kustomization {
  return parse(readFileSync(join(DAEMONSET_DIR, 'kustomization.yaml'), 'utf8')) as Kustomization;
}

export function loadManifests(): LoadedObject[] {
  const k = readKustomization();
  const out: LoadedObject[] = [];
  for (const file of k.resources ?? []) {
    const docs = parseAllDocuments(readFileSync(join(DAEMONSET_DIR, file), 'utf8'));
    docs.forEach((d, index) => {
      if (d.errors.length) throw new Error(`${file}[${index}]: ${d.errors[0]!.message}`);
      const obj = d.toJSON() as K8sObject | null;
      if (obj) out.push({ file, index, obj });
    });
  }
  for (const g of k.configMapGenerator ?? []) {
    const data: Record<string, string> = {};
    for (const f of g.files ?? []) {
      const [key, path] = f.includes('=') ? (f.split('=', 2) as [string, string]) : [f, f];
      data[key] = readFileSync(join(DAEMONSET_DIR, path), 'utf8');
    }
    out.push({
      file: 'kustomization.yaml',
      index: 0,
      obj: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: g.name, namespace: g.namespace, labels: g.options?.labels }, data },
    });
  }
  return out;
}

export function byKind<T = K8sObject>(all: LoadedObject[], kind: string): T[] {
  return all.filter((o) => o.obj.kind === kind).map((o) => o.obj as unknown as T);
}
