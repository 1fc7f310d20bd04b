// Notices kubelet restarts. On start kubelet deletes every socket in the
// device-plugins dir (ours included) and creates a fresh kubelet.sock; the
// plugin must then serve again and re-register. Both signals are watched:
// kubelet.sock being (re)created and our own sockets disappearing. The
// parent dir is watched too: when the device-plugins dir itself is deleted
// and recreated, the watch on the old one is dead and only the parent sees
// the new one appear; the dir is then watched afresh and everything resynced.
import { statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { DirWatcher } from './dir-watcher.ts';

export const KUBELET_SOCKET = 'kubelet.sock';

/** Identity of the current kubelet.sock (undefined when absent): a new file means a new kubelet. */
export function kubeletSocketId(kubeletDir: string): string | undefined {
  try {
    // Inode numbers are reused at once after a delete: birth time tells two sockets apart.
    const st = statSync(join(kubeletDir, KUBELET_SOCKET));
    return `${st.ino}:${st.birthtimeMs}`;
  } catch {
    return undefined;
  }
}

export interface KubeletWatchOptions {
  kubeletDir: string;
  /** Our socket file names, asked on every event (resources come and go with config). */
  ownSockets: () => ReadonlySet<string>;
  onChange: () => void;
  debounceMs?: number;
}

export function watchKubeletDir(opts: KubeletWatchOptions): DirWatcher {
  const parent = dirname(opts.kubeletDir);
  const self = basename(opts.kubeletDir);
  const w: DirWatcher = new DirWatcher({
    debounceMs: opts.debounceMs ?? 30,
    renamesOnly: true,
    filter: (dir, name) => (dir === parent ? name === null || name === self : name === null || name === KUBELET_SOCKET || opts.ownSockets().has(name)),
    onChange: () => {
      // setDirs drops a watch whose dir was replaced (new inode) and watches the new one.
      w.setDirs([opts.kubeletDir, parent]);
      opts.onChange();
    },
  });
  w.setDirs([opts.kubeletDir, parent]);
  return w;
}
