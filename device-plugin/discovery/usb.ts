// USB devices from sysfs: <sysfs>/bus/usb/devices/<port path>/{idVendor,idProduct,busnum,devnum},
// whose device node is /dev/bus/usb/BBB/DDD. Interface entries (1-1:1.0)
// have no idVendor and are skipped.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface UsbDevice {
  /** sysfs name: bus-port path, e.g. 1-1.2; stable while the device stays in the same port. */
  name: string;
  vendor: number;
  product: number;
  busnum: number;
  devnum: number;
  node: string;
}

function read(dir: string, f: string): string | undefined {
  try {
    return readFileSync(join(dir, f), 'utf8').trim();
  } catch {
    return undefined;
  }
}

export function usbDevicesDir(sysfsRoot: string): string {
  return join(sysfsRoot, 'bus', 'usb', 'devices');
}

export function listUsb(sysfsRoot: string): UsbDevice[] {
  const dir = usbDevicesDir(sysfsRoot);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const out: UsbDevice[] = [];
  for (const name of names.sort()) {
    const d = join(dir, name);
    const v = read(d, 'idVendor');
    const p = read(d, 'idProduct');
    const bus = read(d, 'busnum');
    const dev = read(d, 'devnum');
    if (v === undefined || p === undefined || bus === undefined || dev === undefined) continue;
    const busnum = parseInt(bus, 10);
    const devnum = parseInt(dev, 10);
    if (!(busnum > 0) || !(devnum > 0)) continue;
    out.push({
      name,
      vendor: parseInt(v, 16),
      product: parseInt(p, 16),
      busnum,
      devnum,
      node: `/dev/bus/usb/${String(busnum).padStart(3, '0')}/${String(devnum).padStart(3, '0')}`,
    });
  }
  return out;
}
