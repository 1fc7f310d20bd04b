// daemonset/: schema-valid offline, and the policies a node agent must keep.
import { describe, it, expect, beforeAll } from 'vitest';
import { dirname } from 'node:path';
import { parse } from 'yaml';
import type { DaemonSet } from 'kubernetes-types/apps/v1.js';
import type { ClusterRole, ClusterRoleBinding, Role, RoleBinding, PolicyRule } from 'kubernetes-types/rbac/v1.js';
import type { CSIDriver, StorageClass } from 'kubernetes-types/storage/v1.js';
import type { ConfigMap, Container } from 'kubernetes-types/core/v1.js';
import { loadManifests, byKind, type LoadedObject } from './manifests.ts';
import { checkSchemas } from './schema-check.ts';
import { validateConfig } from '../../../agent/config.ts';
import { socketPathFromEndpoint } from '../../../lib/grpc/unix-server.ts';

let all: LoadedObject[];
let ds: DaemonSet;
let agent: Container;
beforeAll(() => {
  all = loadManifests();
  ds = byKind<DaemonSet>(all, 'DaemonSet')[0]!;
  agent = ds.spec!.template.spec!.containers.find((c) => c.name === 'agent')!;
});

const clusterConfig = () => {
  const cm = byKind<ConfigMap>(all, 'ConfigMap').find((c) => c.metadata?.name === 'hostplane-agent')!;
  return validateConfig(parse(cm.data!['agent.yaml']!), 'agent.yaml', { NODE_NAME: 'node-1', KUBERNETES_SERVICE_HOST: '10.96.0.1' }, '/opt/hostplane');
};

describe('schemas', () => {
  it('every manifest type-checks against the Kubernetes API schema (kubernetes-types, offline)', () => {
    expect(all.length).toBeGreaterThanOrEqual(15);
    expect(checkSchemas(all)).toEqual([]);
  });

  it('the schema check rejects an unknown field, a wrong type and a missing required field', () => {
    const bad = structuredClone(all);
    const d = bad.find((o) => o.obj.kind === 'DaemonSet')!.obj as unknown as DaemonSet;
    (d.spec!.template.spec as unknown as Record<string, unknown>).hostNetwrok = true;
    const sc = bad.find((o) => o.obj.kind === 'StorageClass')!.obj as Record<string, unknown>;
    sc.allowVolumeExpansion = 'yes';
    const drv = bad.find((o) => o.obj.kind === 'CSIDriver')!.obj as Record<string, unknown>;
    delete drv.spec;
    const problems = checkSchemas(bad);
    expect(problems.map((p) => p.where).sort()).toEqual([
      'csidriver.yaml[0] CSIDriver/csi.hostplane.io',
      'daemonset.yaml[0] DaemonSet/hostplane',
      'storageclass.yaml[0] StorageClass/hostplane',
    ]);
    expect(problems.find((p) => p.where.startsWith('daemonset'))!.message).toMatch(/hostNetwrok/);
  });

  it('namespaced objects name the hostplane namespace', () => {
    for (const o of all) {
      if (['ServiceAccount', 'ConfigMap', 'Role', 'RoleBinding', 'DaemonSet'].includes(o.obj.kind))
        expect(o.obj.metadata.namespace, `${o.obj.kind}/${o.obj.metadata.name}`).toBe('hostplane');
    }
  });
});

describe('DaemonSet', () => {
  it('is privileged, on the host network, system-node-critical, rolling', () => {
    const spec = ds.spec!.template.spec!;
    expect(agent.securityContext?.privileged).toBe(true);
    expect(spec.hostNetwork).toBe(true);
    expect(spec.priorityClassName).toBe('system-node-critical');
    expect(ds.spec!.updateStrategy?.type).toBe('RollingUpdate');
    expect(spec.serviceAccountName).toBe('hostplane');
  });

  it('tolerates every taint', () => {
    expect(ds.spec!.template.spec!.tolerations).toContainEqual({ operator: 'Exists' });
  });

  it('mounts /var/lib/kubelet with Bidirectional propagation and every host path the agent manages', () => {
    const spec = ds.spec!.template.spec!;
    const hostPathOf = (vol: string) => spec.volumes!.find((v) => v.name === vol)?.hostPath?.path;
    const mounts = Object.fromEntries(agent.volumeMounts!.map((m) => [hostPathOf(m.name) ?? m.name, m]));
    expect(mounts['/var/lib/kubelet']?.mountPropagation).toBe('Bidirectional');
    for (const p of ['/opt/cni/bin', '/etc/cni/net.d', '/var/lib/kubelet', '/dev', '/sys', '/run/netns', '/var/run/cdi']) {
      expect(mounts[p], p).toBeDefined();
      expect(mounts[p]!.mountPath, p).toBe(p);
    }
  });

  it("probes the agent's /healthz and /readyz on the configured port", () => {
    const port = clusterConfig().http.port;
    expect(agent.livenessProbe?.httpGet).toMatchObject({ path: '/healthz', port });
    expect(agent.readinessProbe?.httpGet).toMatchObject({ path: '/readyz', port });
    expect(agent.args).toEqual(['agent', '--config', '/etc/hostplane/agent.yaml']);
  });

  it('every container requests resources', () => {
    for (const c of ds.spec!.template.spec!.containers)
      expect(c.resources?.requests, c.name).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
  });

  it('runs the provisioner and the snapshotter in node-deployment mode (node-local volumes), plus the resizer; no livenessprobe sidecar', () => {
    const cs = ds.spec!.template.spec!.containers;
    const prov = cs.find((c) => c.name === 'csi-provisioner')!;
    expect(prov.args).toEqual(expect.arrayContaining(['--node-deployment=true', '--enable-capacity=true']));
    expect(prov.env?.map((e) => e.name)).toEqual(expect.arrayContaining(['NODE_NAME', 'NAMESPACE', 'POD_NAME']));
    expect(cs.map((c) => c.image?.split(':')[0])).toEqual(
      expect.arrayContaining(['registry.k8s.io/sig-storage/csi-resizer', 'registry.k8s.io/sig-storage/csi-snapshotter']),
    );
    const snap = cs.find((c) => c.name === 'csi-snapshotter')!;
    expect(snap.args).toContain('--node-deployment=true');
    expect(snap.args?.some((a) => a.startsWith('--leader-election'))).toBe(false);
    expect(snap.env?.map((e) => e.name)).toContain('NODE_NAME');
    // Every sidecar image is one the Go module proxy serves (test/e2e/build-tools.sh builds exactly these).
    expect(
      cs
        .map((c) => c.image)
        .filter((i) => i?.startsWith('registry.k8s.io/'))
        .sort(),
    ).toEqual([
      'registry.k8s.io/sig-storage/csi-provisioner:v5.2.0',
      'registry.k8s.io/sig-storage/csi-resizer:v1.13.1',
      'registry.k8s.io/sig-storage/csi-snapshotter:v8.2.1',
    ]);
  });

  it('sidecars reach the CSI socket the agent serves', () => {
    const spec = ds.spec!.template.spec!;
    const sockDir = dirname(socketPathFromEndpoint(clusterConfig().csi.endpoint));
    expect(spec.volumes!.find((v) => v.name === 'csi-socket-dir')?.hostPath?.path).toBe(sockDir);
    for (const c of spec.containers.filter((c) => c.name.startsWith('csi-'))) {
      expect(c.args, c.name).toContain('--csi-address=/csi/csi.sock');
      expect(c.volumeMounts, c.name).toContainEqual({ name: 'csi-socket-dir', mountPath: '/csi' });
    }
  });

  it('reads the generated ConfigMap, whose agent config is valid', () => {
    expect(ds.spec!.template.spec!.volumes!.find((v) => v.name === 'config')?.configMap?.name).toBe('hostplane-agent');
    const cfg = clusterConfig();
    expect(cfg.cni.binDir).toBe('/opt/cni/bin');
    expect(cfg.cni.podCIDRs).toEqual([]);
  });
});

describe('RBAC', () => {
  const rules = (): Array<[string, PolicyRule]> => [
    ...byKind<ClusterRole>(all, 'ClusterRole').flatMap((r) => (r.rules ?? []).map((x): [string, PolicyRule] => [r.metadata!.name!, x])),
    ...byKind<Role>(all, 'Role').flatMap((r) => (r.rules ?? []).map((x): [string, PolicyRule] => [r.metadata!.name!, x])),
  ];

  it('has no wildcard verbs, resources or API groups', () => {
    for (const [role, r] of rules()) {
      expect(r.verbs, role).not.toContain('*');
      expect(r.resources ?? [], role).not.toContain('*');
      expect(r.apiGroups ?? [], role).not.toContain('*');
      expect(r.nonResourceURLs, role).toBeUndefined();
    }
  });

  it('never reads secrets', () => {
    for (const [role, r] of rules()) expect(r.resources ?? [], role).not.toContain('secrets');
  });

  it('binds no built-in role (cluster-admin, admin, edit) and only roles it defines', () => {
    const defined = new Set([...byKind<ClusterRole>(all, 'ClusterRole'), ...byKind<Role>(all, 'Role')].map((r) => r.metadata!.name));
    for (const b of [...byKind<ClusterRoleBinding>(all, 'ClusterRoleBinding'), ...byKind<RoleBinding>(all, 'RoleBinding')]) {
      expect(['cluster-admin', 'admin', 'edit']).not.toContain(b.roleRef.name);
      expect(defined.has(b.roleRef.name), b.roleRef.name).toBe(true);
      expect(b.subjects).toEqual([{ kind: 'ServiceAccount', name: 'hostplane', namespace: 'hostplane' }]);
    }
  });

  it('gives the agent only get/list/watch on nodes', () => {
    const role = byKind<ClusterRole>(all, 'ClusterRole').find((r) => r.metadata?.name === 'hostplane-agent')!;
    expect(role.rules).toEqual([{ apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] }]);
  });

  it('lets the provisioner manage CSIStorageCapacity and the snapshotter update snapshot contents status', () => {
    const find = (name: string, res: string) =>
      byKind<ClusterRole>(all, 'ClusterRole')
        .find((r) => r.metadata?.name === name)!
        .rules!.find((r) => r.resources!.includes(res));
    expect(find('hostplane-csi-provisioner', 'csistoragecapacities')?.verbs).toEqual(expect.arrayContaining(['create', 'update', 'delete']));
    expect(find('hostplane-csi-snapshotter', 'volumesnapshotcontents/status')?.verbs).toEqual(expect.arrayContaining(['update', 'patch']));
    expect(find('hostplane-csi-resizer', 'persistentvolumeclaims/status')?.verbs).toEqual(['patch']);
  });
});

describe('storage objects', () => {
  it('CSIDriver: no attach, pod info on mount, storage capacity, Persistent and Ephemeral', () => {
    const d = byKind<CSIDriver>(all, 'CSIDriver')[0]!;
    expect(d.metadata!.name).toBe(clusterConfig().csi.driverName);
    expect(d.spec).toMatchObject({ attachRequired: false, podInfoOnMount: true, storageCapacity: true });
    expect(d.spec.volumeLifecycleModes).toEqual(['Persistent', 'Ephemeral']);
  });

  it('StorageClass waits for the first consumer and allows expansion; the snapshot class uses the same driver', () => {
    const sc = byKind<StorageClass>(all, 'StorageClass')[0]!;
    expect(sc).toMatchObject({ provisioner: clusterConfig().csi.driverName, volumeBindingMode: 'WaitForFirstConsumer', allowVolumeExpansion: true });
    expect(byKind<{ driver: string }>(all, 'VolumeSnapshotClass')[0]!.driver).toBe(clusterConfig().csi.driverName);
  });
});
