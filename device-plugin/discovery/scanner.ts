// One scan of a resource's discovery rules: the devices present now, and the
// directories to watch so the next change is noticed without polling.
import { dirname } from 'node:path';
import type { ResourceConfig, DiscoveryRule } from '../config.ts';
import { expandGlob } from './glob.ts';
import { listPci, classMatches, pciDevicesDir } from './pci.ts';
import { listUsb, usbDevicesDir } from './usb.ts';
import { type DiscoveredDevice, MAX_ID, idForPath, makeId } from './device.ts';

export interface ScanResult {
  devices: DiscoveredDevice[];
  watchDirs: string[];
}

/** Longest base id that still fits `<id>::<n>` in 63 chars for every replica. */
export function maxBaseId(replicas: number): number {
  return replicas > 1 ? MAX_ID - 2 - String(replicas - 1).length : MAX_ID;
}

function scanRule(rule: DiscoveryRule, sysfsRoot: string, maxId: number, dirs: Set<string>): DiscoveredDevice[] {
  switch (rule.kind) {
    case 'path': {
      const g = expandGlob(rule.glob);
      for (const d of g.dirs) dirs.add(d);
      return g.matches.map((m) => ({ id: idForPath(m, maxId), nodes: [m], usable: true }));
    }
    case 'pci': {
      dirs.add(pciDevicesDir(sysfsRoot));
      const found = listPci(sysfsRoot).filter(
        (d) => d.vendor === rule.vendor && (rule.classes.length === 0 || rule.classes.some((c) => classMatches(d.classCode, c))),
      );
      // Without a driver-specific map from PCI address to node file, pair
      // them in order: the n-th function (by address) gets the n-th node.
      const nodes = rule.deviceNodes ? expandGlob(rule.deviceNodes) : undefined;
      for (const d of nodes?.dirs ?? []) dirs.add(d);
      if (rule.deviceNodes) dirs.add(dirname(rule.deviceNodes));
      return found.map((d, i) => {
        const node = nodes?.matches[i];
        const dev: DiscoveredDevice = { id: makeId(d.address, maxId), nodes: node ? [node] : [], usable: !nodes || node !== undefined };
        if (d.numa !== undefined) dev.numa = d.numa;
        return dev;
      });
    }
    case 'usb': {
      dirs.add(usbDevicesDir(sysfsRoot));
      // sysfs sends no inotify events on a real host, but devtmpfs does:
      // watching the bus dirs of /dev/bus/usb sees a plug or unplug at once.
      dirs.add('/dev/bus/usb');
      const found = listUsb(sysfsRoot).filter((d) => d.vendor === rule.vendor && (rule.product === undefined || d.product === rule.product));
      for (const d of found) dirs.add(dirname(d.node));
      return found.map((d) => ({ id: makeId(`usb-${d.name}`, maxId), nodes: [d.node], usable: true }));
    }
  }
}

export function scanResource(res: ResourceConfig, sysfsRoot: string): ScanResult {
  const dirs = new Set<string>();
  const maxId = maxBaseId(res.replicas);
  const byId = new Map<string, DiscoveredDevice>();
  for (const rule of res.discovery) {
    for (const d of scanRule(rule, sysfsRoot, maxId, dirs)) {
      // Two rules reaching the same node (or two paths sanitising alike) stay distinct devices.
      if (byId.has(d.id)) {
        if (byId.get(d.id)!.nodes.join() === d.nodes.join()) continue;
        d.id = makeId(`${d.id}-${d.nodes.join(',')}`, maxId);
      }
      byId.set(d.id, d);
    }
  }
  return { devices: [...byId.values()], watchDirs: [...dirs].sort() };
}
