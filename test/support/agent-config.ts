// An agent config document for tests whose every path (state dirs, sockets,
// the CNI server's socket, kubelet dirs) lies under the test's own dir, so
// agents of tests running side by side never share a lock, a socket or a
// conflist. Callers pass what their test is about; the rest is filled in.
import { join } from 'node:path';

export interface AgentTestOptions {
  nodeName: string;
  /** The CNI part: its pod CIDRs, or false to leave CNI off. */
  cni: { podCIDRs: string[]; binarySource?: string } | false;
  /** The one device-plugin resource served (a /dev/null device). */
  resource: string;
  /** Device rescan period; 0 turns the periodic rescan off. */
  rescanIntervalSeconds?: number;
}

export function agentTestConfig(dir: string, o: AgentTestOptions): Record<string, unknown> {
  return {
    nodeName: o.nodeName,
    http: { address: '127.0.0.1', port: 0 },
    cni: o.cni
      ? {
          ...(o.cni.binarySource ? { binarySource: o.cni.binarySource } : {}),
          binDir: join(dir, 'cni-bin'),
          confDir: join(dir, 'net.d'),
          ipamDataDir: join(dir, 'ipam'),
          podCIDRs: o.cni.podCIDRs,
          server: { socket: join(dir, 'run', 'cni.sock') },
        }
      : { enabled: false },
    csi: { endpoint: `unix://${dir}/csi/csi.sock`, dataDir: join(dir, 'csi-data'), pluginsRegistry: join(dir, 'registry') },
    devicePlugin: {
      kubeletDir: join(dir, 'device-plugins'),
      pluginsRegistry: join(dir, 'registry'),
      cdiDir: join(dir, 'cdi'),
      config: {
        ...(o.rescanIntervalSeconds !== undefined ? { rescanIntervalSeconds: o.rescanIntervalSeconds } : {}),
        resources: [{ name: o.resource, devices: [{ path: '/dev/null' }] }],
      },
    },
  };
}
