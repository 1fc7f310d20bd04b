// PCI functions from sysfs: <sysfs>/bus/pci/devices/<addr>/{vendor,class,device,numa_node}.
// The address is the device id: stable across reboots and unique per node.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface PciDevice {
  address: string;
  vendor: number;
  device: number;
  /** 24-bit class code: class, subclass, prog-if. */
  classCode: number;
  numa?: number;
}

function readHex(path: string): number | undefined {
  try {
    const v = parseInt(readFileSync(path, 'utf8').trim().replace(/^0x/, ''), 16);
    return Number.isNaN(v) ? undefined : v;
  } catch {
    return undefined;
  }
}

export function readNuma(dir: string): number | undefined {
  try {
    const n = parseInt(readFileSync(join(dir, 'numa_node'), 'utf8').trim(), 10);
    return Number.isNaN(n) || n < 0 ? undefined : n;
  } catch {
    return undefined;
  }
}

export function pciDevicesDir(sysfsRoot: string): string {
  return join(sysfsRoot, 'bus', 'pci', 'devices');
}

/** Every PCI function whose vendor/class files are readable, sorted by address. */
export function listPci(sysfsRoot: string): PciDevice[] {
  const dir = pciDevicesDir(sysfsRoot);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const out: PciDevice[] = [];
  for (const address of names.sort()) {
    const d = join(dir, address);
    const vendor = readHex(join(d, 'vendor'));
    const classCode = readHex(join(d, 'class'));
    // A half-created entry (or a fake tree being written) is skipped, not guessed.
    if (vendor === undefined || classCode === undefined) continue;
    const dev: PciDevice = { address, vendor, classCode, device: readHex(join(d, 'device')) ?? 0 };
    const numa = readNuma(d);
    if (numa !== undefined) dev.numa = numa;
    out.push(dev);
  }
  return out;
}

/** Config class `03` matches the class byte, `0302` class+subclass, `030200` all three. */
export function classMatches(classCode: number, wanted: string): boolean {
  const digits = wanted.length;
  const shift = (6 - digits) * 4;
  return classCode >> shift === parseInt(wanted, 16);
}
