// Watches a changing set of directories (non-recursively) and calls back
// once per burst of events. inotify via fs.watch: a device node or sysfs
// entry appearing is seen in milliseconds, where polling would take seconds.
import { watch, statSync, type FSWatcher } from 'node:fs';

export interface DirWatcherOptions {
  /** Called after events settle for debounceMs; `names` are the entries that changed, per dir. */
  onChange: (changes: Array<{ dir: string; name: string | null }>) => void;
  debounceMs?: number;
  /** Only events whose file name passes are reported (e.g. just kubelet.sock). */
  filter?: (dir: string, name: string | null) => boolean;
  /**
   * Only entries appearing or vanishing count. Device presence is all we
   * track, and a write to any node in /dev (every write to /dev/null) raises
   * an IN_MODIFY "change" on the directory watch: those must not rescan.
   */
  renamesOnly?: boolean;
}

export class DirWatcher {
  /** Per dir: the watcher and the inode it watches (a dir deleted and recreated is a new inode). */
  private readonly watchers = new Map<string, { w: FSWatcher; ino: string }>();
  private pending: Array<{ dir: string; name: string | null }> = [];
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly opts: DirWatcherOptions;

  constructor(opts: DirWatcherOptions) {
    this.opts = opts;
  }

  /** Watch exactly these dirs; missing ones are skipped (their parent should be in the set). */
  setDirs(dirs: Iterable<string>): void {
    if (this.closed) return;
    const want = new Set(dirs);
    for (const [d, e] of this.watchers) {
      if (!want.has(d) || inode(d) !== e.ino) {
        e.w.close();
        this.watchers.delete(d);
      }
    }
    for (const d of want) {
      if (this.watchers.has(d)) continue;
      const ino = inode(d);
      if (ino === undefined) continue; // not there yet; the caller also watches an existing ancestor
      try {
        const w = watch(d, { persistent: false }, (ev, name) => {
          if (this.opts.renamesOnly && ev !== 'rename') return;
          this.event(d, name === null ? null : String(name));
        });
        // A watched dir that goes away may report an error; the next setDirs re-adds it.
        w.on('error', () => {
          w.close();
          if (this.watchers.get(d)?.w === w) this.watchers.delete(d);
          this.event(d, null);
        });
        this.watchers.set(d, { w, ino });
      } catch {
        // Raced away between stat and watch: as if it was never there.
      }
    }
  }

  dirs(): string[] {
    return [...this.watchers.keys()];
  }

  private event(dir: string, name: string | null): void {
    if (this.closed) return;
    if (this.opts.filter && !this.opts.filter(dir, name)) return;
    this.pending.push({ dir, name });
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const changes = this.pending;
      this.pending = [];
      this.opts.onChange(changes);
    }, this.opts.debounceMs ?? 10);
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    for (const e of this.watchers.values()) e.w.close();
    this.watchers.clear();
  }
}

/** Identity of a directory: inode numbers are reused at once, so birth time too. */
function inode(dir: string): string | undefined {
  try {
    const st = statSync(dir);
    return st.isDirectory() ? `${st.ino}:${st.birthtimeMs}` : undefined;
  } catch {
    return undefined;
  }
}
