// Notices kubelet restarts. On start kubelet deletes every socket in the
// device-plugins dir (ours included) and creates a fresh kubelet.sock; the
// plugin must then serve again and re-register. Both signals are watched:
// kubelet.sock being (re)created and our own sockets disappearing.
import { statSync } from 'node:fs';
import { join } from 'node:path';
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
  const w = new DirWatcher({
    debounceMs: opts.debounceMs ?? 30,
    renamesOnly: true,
    filter: (_dir, name) => name === null || name === KUBELET_SOCKET || opts.ownSockets().has(name),
    onChange: () => opts.onChange(),
  });
  w.setDirs([opts.kubeletDir]);
  return w;
}
