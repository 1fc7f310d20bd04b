// Test double for the CNI's HostView seam (cni/net/host-view.ts): links and sysctls held in maps.
import type { HostView } from '../../cni/net/host-view.ts';

export class FakeHostView implements HostView {
  links = new Map<string, { mac: string; bridge?: boolean; master?: string }>();
  netns = new Set<string>();
  sysctls = new Map<string, string>();
  boot = 'boot-1';
  linkExists(n: string) {
    return this.links.has(n);
  }
  isBridge(n: string) {
    return this.links.get(n)?.bridge === true;
  }
  mac(n: string) {
    return this.links.get(n)?.mac;
  }
  master(n: string) {
    return this.links.get(n)?.master;
  }
  bridgePorts(b: string) {
    return [...this.links].filter(([, l]) => l.master === b).map(([n]) => n);
  }
  netnsExists(p: string) {
    return this.netns.has(p);
  }
  sysctl(k: string) {
    return this.sysctls.get(k);
  }
  setSysctl(k: string, v: string) {
    this.sysctls.set(k, v);
  }
  bootId() {
    return this.boot;
  }
}
