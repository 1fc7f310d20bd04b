// The node's daemon configs: containerd (config version 3) and the kubelet.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, CGROUP_ROOT, CLUSTER_CIDR, CONTAINERD_SOCK, DIR, IMAGES, NODE_IP, REF_BRIDGE, REF_SUBNET, ROOT } from './layout.ts';
import { pki } from './pki.ts';

/** containerd's runtime handler for pods of RuntimeClass `refbridge`: the same runc, the reference bridge plugin's network. */
export const REF_HANDLER = 'refbridge';

export function writeContainerdConfig(): string {
  const c = DIR.containerd;
  const runc = (extra: string[]) => ["runtime_type = 'io.containerd.runc.v2'", ...extra];
  const opts = [`BinaryName = '${BIN.runc}'`, `Root = '${c}/runc'`, 'SystemdCgroup = false'];
  const file = join(c, 'config.toml');
  writeFileSync(
    file,
    [
      'version = 3',
      `root = '${c}/root'`,
      `state = '${c}/state'`,
      `temp = '${c}/tmp'`,
      '[grpc]',
      `  address = '${CONTAINERD_SOCK}'`,
      '[ttrpc]',
      `  address = '${CONTAINERD_SOCK}.ttrpc'`,
      '[debug]',
      "  address = ''",
      '[metrics]',
      "  address = ''",
      "[plugins.'io.containerd.nri.v1.nri']",
      '  disable = true',
      "[plugins.'io.containerd.cri.v1.images']",
      "  snapshotter = 'overlayfs'",
      "[plugins.'io.containerd.cri.v1.images'.pinned_images]",
      `  sandbox = '${IMAGES.pause}'`,
      "[plugins.'io.containerd.cri.v1.runtime']",
      // Root here lacks CAP_SYS_RESOURCE: without this every sandbox fails
      // ("can't get final child's PID from pipe: EOF").
      '  restrict_oom_score_adj = true',
      '  netns_mounts_under_state_dir = true',
      '  enable_cdi = true',
      `  cdi_spec_dirs = ['${DIR.cdi}']`,
      "[plugins.'io.containerd.cri.v1.runtime'.containerd]",
      "  default_runtime_name = 'runc'",
      "[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]",
      ...runc([]).map((l) => `  ${l}`),
      "[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]",
      ...opts.map((l) => `  ${l}`),
      `[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.${REF_HANDLER}]`,
      ...runc([`cni_conf_dir = '${DIR.refCniConf}'`, 'cni_max_conf_num = 1']).map((l) => `  ${l}`),
      `[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.${REF_HANDLER}.options]`,
      ...opts.map((l) => `  ${l}`),
      "[plugins.'io.containerd.cri.v1.runtime'.cni]",
      // Ours (the agent installs `hostplane` there), then the reference plugins (loopback, bridge, host-local).
      `  bin_dirs = ['${DIR.cniBin}', '${BIN.refCni}']`,
      `  conf_dir = '${DIR.cniConf}'`,
      '  max_conf_num = 1',
      "[plugins.'io.containerd.grpc.v1.cri']",
      '  disable_tcp_service = true',
      "  stream_server_address = '127.0.0.1'",
      "  stream_server_port = '0'",
      '',
    ].join('\n'),
  );
  return file;
}

/** The reference bridge plugin's network, for the latency comparison: no default route, no masquerade. */
export function writeRefConflist(): void {
  writeFileSync(
    join(DIR.refCniConf, '10-ref-bridge.conflist'),
    JSON.stringify(
      {
        cniVersion: '1.0.0',
        name: 'ref-bridge',
        plugins: [
          {
            type: 'bridge',
            bridge: REF_BRIDGE,
            isGateway: true,
            ipMasq: false,
            hairpinMode: true,
            ipam: { type: 'host-local', ranges: [[{ subnet: REF_SUBNET }]], routes: [{ dst: CLUSTER_CIDR }], dataDir: join(ROOT, 'cni', 'ref-ipam') },
          },
        ],
      },
      null,
      2,
    ),
  );
}

export function writeKubeletConfig(): string {
  const file = join(DIR.kubelet, '..', 'kubelet-config.yaml');
  writeFileSync(
    file,
    `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: ${NODE_IP}
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: { enabled: false }
  webhook: { enabled: true }
  x509: { clientCAFile: ${pki('ca.crt')} }
authorization: { mode: Webhook }
tlsCertFile: ${pki('kubelet-serving.crt')}
tlsPrivateKeyFile: ${pki('kubelet-serving.key')}
cgroupDriver: cgroupfs
failCgroupV1: false
cgroupsPerQOS: true
cgroupRoot: ${CGROUP_ROOT}
enforceNodeAllocatable: [pods]
failSwapOn: false
resolvConf: ${join(ROOT, 'resolv.conf')}
containerRuntimeEndpoint: unix://${CONTAINERD_SOCK}
imageServiceEndpoint: unix://${CONTAINERD_SOCK}
podLogsDir: ${DIR.podLogs}
# A shared test machine: never evict for its disk or memory, never GC our imported images.
evictionHard: { memory.available: 50Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1% }
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
`,
  );
  return file;
}
