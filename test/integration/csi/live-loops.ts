// Loop devices under a test dir that are still ours to answer for. On this
// shared machine other tests create mount namespaces at any moment (every
// `ip netns exec`, every `unshare -m`), and each copies the mounts that exist
// at that instant: a volume unmounted here stays mounted there, pinning its
// loop device after the driver has detached it (losetup -d of a busy device
// only sets autoclear). Such a device is released by us and freed by the
// kernel when that namespace goes; a device without autoclear, or still
// mounted in this namespace, is a real leak.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { parseMountinfo } from '../../../csi/volumes/mounts.ts';
import { loopsUnder } from './host.ts';

export function liveLoopsUnder(dir: string, file?: string): string[] {
  return loopsUnder(dir, file).filter((d) => !releasedByUs(d));
}

/** Who holds our loop devices open (for a failure message): losetup's view plus every /proc/PID/fd pointing at one. */
export function loopDiagnostics(dir: string): string {
  const loops = loopsUnder(dir);
  const out = [
    execFileSync('losetup', ['-l', '-O', 'NAME,AUTOCLEAR,BACK-FILE'], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => loops.some((d) => l.startsWith(`${d} `)))
      .join('; '),
  ];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let fds: string[] = [];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let t = '';
      try {
        t = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      if (loops.includes(t)) {
        let cmd = '';
        try {
          cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
        } catch {
          /* gone */
        }
        out.push(`pid ${pid} (${cmd.slice(0, 120)}) holds ${t}`);
      }
    }
  }
  // A mount namespace made while the volume was mounted (an `ip netns exec`, an `unshare -m`
  // of any test on the machine) keeps a copy of the mount, and with it the loop device.
  const seen = new Set<string>();
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let ns = '';
    let text = '';
    try {
      ns = readlinkSync(`/proc/${pid}/ns/mnt`);
      text = readFileSync(`/proc/${pid}/mountinfo`, 'utf8');
    } catch {
      continue;
    }
    if (seen.has(ns)) continue;
    seen.add(ns);
    for (const m of parseMountinfo(text)) if (loops.includes(m.source)) out.push(`mount namespace ${ns} (pid ${pid}) has ${m.source} mounted at ${m.target}`);
  }
  return out.join('\n');
}

/** A loop device the driver asked to free (autoclear set) that nothing in this mount namespace still mounts: the kernel frees it at its holder's last close. */
export function releasedByUs(device: string): boolean {
  let out: string;
  try {
    out = execFileSync('losetup', ['-n', '-l', '-O', 'AUTOCLEAR', device], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return true; // freed meanwhile
  }
  return out === '1' && !parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8')).some((m) => m.source === device);
}
