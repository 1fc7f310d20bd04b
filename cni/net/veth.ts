// Names and MACs for the veth pair of one attachment.
import { hashHex } from '../hash.ts';
import type { Ip } from '../ipam/ip.ts';

/**
 * The host end's name is a pure function of (container id, ifname): DEL and GC
 * find it without any saved state, even after the netns is gone. "veth" + 11
 * hex digits = 15 bytes, the kernel's limit; the reference plugin's random
 * names are "veth" + 8 hex, so the two never collide.
 */
export function hostVethName(containerId: string, ifname: string): string {
  return `veth${hashHex(`${containerId}\0${ifname}`, 11)}`;
}

export const HOST_VETH_RE = /^veth[0-9a-f]{11}$/;

/**
 * The container end's MAC, chosen here so it is set at creation and never read
 * back: 0a:58 + the IPv4 address (the Kubernetes convention, stable per IP),
 * else random; always locally administered unicast.
 */
export function containerMac(ipv4: Ip | undefined): string {
  const b = ipv4
    ? [0x0a, 0x58, ...[24n, 16n, 8n, 0n].map((s) => Number((ipv4.value >> s) & 0xffn))]
    : Array.from({ length: 6 }, () => Math.floor(Math.random() * 256));
  b[0] = ((b[0] ?? 0) & 0xfe) | 0x02;
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}

/** A fixed MAC for a bridge, so it does not change as ports come and go (the kernel's default). */
export function bridgeMac(bridge: string): string {
  const h = hashHex(`hostplane-bridge\0${bridge}`, 12);
  const b = Array.from({ length: 6 }, (_, i) => parseInt(h.slice(i * 2, i * 2 + 2), 16));
  b[0] = ((b[0] ?? 0) & 0xfe) | 0x02;
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}
