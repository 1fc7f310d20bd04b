// Fake sysfs trees for device-plugin tests: a copy of test/fixtures/sysfs-numa
// in a temp dir, plus helpers that add or remove devices the way the kernel
// does — the entry appears whole (built aside, then renamed into place).
import { cpSync, mkdtempSync, mkdirSync, writeFileSync, renameSync, rmSync, symlinkSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'sysfs-numa');

export function copySysfs(): string {
  const root = mkdtempSync(join(tmpdir(), 'hp-sysfs-'));
  cpSync(FIXTURE, root, { recursive: true });
  return root;
}

function placeEntry(root: string, bus: 'pci' | 'usb', name: string, files: Record<string, string>): void {
  const stage = join(root, `.stage-${name.replace(/[:/]/g, '_')}`);
  mkdirSync(stage, { recursive: true });
  for (const [f, v] of Object.entries(files)) writeFileSync(join(stage, f), `${v}\n`);
  renameSync(stage, join(root, 'bus', bus, 'devices', name));
}

export function addPci(root: string, address: string, f: { vendor: string; class: string; device?: string; numa?: number }): void {
  placeEntry(root, 'pci', address, { vendor: f.vendor, class: f.class, device: f.device ?? '0x0000', numa_node: String(f.numa ?? -1) });
}

export function addUsb(root: string, name: string, f: { vendor: string; product: string; bus: number; dev: number }): void {
  placeEntry(root, 'usb', name, { idVendor: f.vendor, idProduct: f.product, busnum: String(f.bus), devnum: String(f.dev) });
}

export function removeEntry(root: string, bus: 'pci' | 'usb', name: string): void {
  rmSync(join(root, 'bus', bus, 'devices', name), { recursive: true, force: true });
}

/**
 * Real sysfs sends no inotify events when a device appears or goes. To test
 * what a real host relies on (the periodic rescan), `<root>/bus/<bus>/devices`
 * becomes a symlink to a generation dir, and each silent change builds the
 * next generation aside and swaps the link by rename: the directory the
 * plugin watches never changes, so no event reaches it. Old generations are
 * kept (deleting them would raise events on the watched dir).
 */
export function silenceBus(root: string, bus: 'pci' | 'usb'): void {
  const devices = join(root, 'bus', bus, 'devices');
  renameSync(devices, `${devices}.gen0`);
  symlinkSync(`devices.gen0`, devices);
}

export function silentChange(root: string, bus: 'pci' | 'usb', change: (devicesDir: string) => void): void {
  const devices = join(root, 'bus', bus, 'devices');
  const current = readlinkSync(devices);
  const next = `devices.gen${Number(current.replace(/^devices\.gen/, '')) + 1}`;
  cpSync(join(root, 'bus', bus, current), join(root, 'bus', bus, next), { recursive: true });
  change(join(root, 'bus', bus, next));
  symlinkSync(next, `${devices}.new`);
  renameSync(`${devices}.new`, devices);
}

export function silentAddPci(root: string, address: string, f: { vendor: string; class: string; numa?: number }): void {
  silentChange(root, 'pci', (dir) => {
    mkdirSync(join(dir, address));
    const files = { vendor: f.vendor, class: f.class, device: '0x0000', numa_node: String(f.numa ?? -1) };
    for (const [k, v] of Object.entries(files)) writeFileSync(join(dir, address, k), `${v}\n`);
  });
}

export function silentRemove(root: string, bus: 'pci' | 'usb', name: string): void {
  silentChange(root, bus, (dir) => rmSync(join(dir, name), { recursive: true, force: true }));
}
