// A gateway bridge routes for its pods: the host must forward.
import type { HostView } from './host-view.ts';

export function enableForwarding(view: HostView, families: Set<4 | 6>): void {
  const keys = [...families].map((f) => (f === 4 ? 'net.ipv4.ip_forward' : 'net.ipv6.conf.all.forwarding'));
  for (const k of keys) if (view.sysctl(k) !== '1') view.setSysctl(k, '1');
}
