// The network configuration list the container runtime reads: our plugin
// (bridge + hostplane IPAM, one range set per pod CIDR, so dual-stack nodes
// get one address of each family) followed by the reference portmap plugin
// for hostPort. Keys are the CNI plugin's (cni/README.md).
import type { CniConfig } from '../config.ts';
import { familyOf } from '../../lib/ip-family.ts';

export function buildConflist(cni: CniConfig, podCIDRs: readonly string[]): string {
  const plugins: Record<string, unknown>[] = [
    {
      type: 'hostplane',
      bridge: cni.bridge,
      isGateway: cni.isGateway,
      isDefaultGateway: cni.isDefaultGateway,
      ipMasq: cni.ipMasq,
      mtu: cni.mtu,
      hairpinMode: cni.hairpinMode,
      ipam: {
        type: 'hostplane',
        ranges: podCIDRs.map((subnet) => [{ subnet }]),
        dataDir: cni.ipamDataDir,
      },
    },
  ];
  if (cni.portmap) plugins.push({ type: 'portmap', capabilities: { portMappings: true }, snat: true });
  return JSON.stringify({ cniVersion: cni.cniVersion, name: cni.networkName, plugins }, null, 2) + '\n';
}

/** Node.spec.podCIDRs order is not meaningful to us; IPv4 first keeps the conflist stable. */
export function normalizeCidrs(cidrs: readonly string[]): string[] {
  const v4 = cidrs.filter((c) => familyOf(c) === 4);
  const v6 = cidrs.filter((c) => familyOf(c) === 6);
  return [...new Set([...v4, ...v6])];
}
