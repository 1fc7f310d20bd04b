// Offline schema validation: every manifest becomes a typed constant in a
// generated TypeScript file, checked by tsc against kubernetes-types (the
// Kubernetes API types generated from the upstream OpenAPI spec). An object
// literal assigned to such a type fails on unknown fields, wrong value types,
// wrong apiVersion/kind pairs and missing required fields, so this is a strict
// structural check of the whole object, not only the fields we thought of.
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { execFileSync } from 'node:child_process';
import type { LoadedObject } from './manifests.ts';

const ROOT = join(import.meta.dirname, '..', '..', '..');

// kind -> [module, type]; apiVersion is checked by the type's literal field.
const TYPES: Record<string, [string, string]> = {
  Namespace: ['core/v1', 'Namespace'],
  ServiceAccount: ['core/v1', 'ServiceAccount'],
  ConfigMap: ['core/v1', 'ConfigMap'],
  ClusterRole: ['rbac/v1', 'ClusterRole'],
  ClusterRoleBinding: ['rbac/v1', 'ClusterRoleBinding'],
  Role: ['rbac/v1', 'Role'],
  RoleBinding: ['rbac/v1', 'RoleBinding'],
  CSIDriver: ['storage/v1', 'CSIDriver'],
  StorageClass: ['storage/v1', 'StorageClass'],
  DaemonSet: ['apps/v1', 'DaemonSet'],
};

// The snapshot CRDs are not in kubernetes-types; this mirrors the
// VolumeSnapshotClass schema of kubernetes-csi/external-snapshotter v8.
const EXTRA = `
interface VolumeSnapshotClass {
  apiVersion: 'snapshot.storage.k8s.io/v1';
  kind: 'VolumeSnapshotClass';
  metadata: import('kubernetes-types/meta/v1').ObjectMeta;
  driver: string;
  deletionPolicy: 'Delete' | 'Retain';
  parameters?: { [k: string]: string };
}
`;

export interface SchemaProblem {
  where: string;
  message: string;
}

/** Returns tsc's complaints, each attributed to the manifest it is about. */
export function checkSchemas(objs: LoadedObject[]): SchemaProblem[] {
  const dir = mkdtempSync(join(tmpdir(), 'hp-schema-'));
  try {
    const lines: string[] = [];
    const owners: string[] = [];
    const push = (line: string, owner: string) => {
      lines.push(line);
      owners.push(owner);
    };
    const mods = new Map<string, string[]>();
    for (const [, [mod, type]] of Object.entries(TYPES)) mods.set(mod, [...(mods.get(mod) ?? []), type]);
    for (const [mod, types] of mods) push(`import type { ${types.join(', ')} } from 'kubernetes-types/${mod}';`, 'imports');
    for (const l of EXTRA.split('\n')) push(l, 'VolumeSnapshotClass schema');
    objs.forEach((o, i) => {
      const where = `${o.file}[${o.index}] ${o.obj.kind}/${o.obj.metadata?.name}`;
      const type = o.obj.kind === 'VolumeSnapshotClass' ? 'VolumeSnapshotClass' : TYPES[o.obj.kind]?.[1];
      if (!type) {
        push(`// no schema for ${where}`, where);
        push(`const unknownKind${i}: never = ${JSON.stringify(o.obj.kind)};`, where);
        return;
      }
      const json = JSON.stringify(o.obj, null, 2).split('\n');
      push(`export const m${i}: ${type} = ${json[0]}`, where);
      for (const l of json.slice(1)) push(l, where);
      lines[lines.length - 1] += ';';
    });
    writeFileSync(join(dir, 'manifests.ts'), `${lines.join('\n')}\n`);
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noEmit: true,
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          skipLibCheck: true,
          types: [],
          baseUrl: '.',
          paths: { 'kubernetes-types/*': [join(ROOT, 'node_modules', 'kubernetes-types', '*')] },
        },
        files: ['manifests.ts'],
      }),
    );
    try {
      execFileSync(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', join(dir, 'tsconfig.json')], { encoding: 'utf8', stdio: 'pipe' });
      return [];
    } catch (e) {
      const out = String((e as { stdout?: string }).stdout ?? e);
      const problems: SchemaProblem[] = [];
      for (const m of out.matchAll(/manifests\.ts\((\d+),\d+\): error TS\d+: (.*(?:\n {2,}.*)*)/g)) {
        problems.push({ where: owners[Number(m[1]) - 1] ?? '?', message: m[2]!.replace(/\s+/g, ' ') });
      }
      if (!problems.length) problems.push({ where: 'tsc', message: out.slice(0, 2000) });
      return problems;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
