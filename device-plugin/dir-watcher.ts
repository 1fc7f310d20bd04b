// Watches a changing set of directories (non-recursively) and calls back
// once per burst of events. inotify via fs.watch: a device node or sysfs
// entry appearing is seen in milliseconds, where polling would take seconds.
import { watch, type FSWatcher } from 'node:fs';

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
  private readonly watchers = new Map<string, FSWatcher>();
  private pending: Array<{ dir: string; name: string | null }> = [];
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly opts: DirWatcherOptions;

  constructor(opts: DirWatcherOptions) { this.opts = opts; }

  /** Watch exactly these dirs; missing ones are skipped (their parent should be in the set). */
  setDirs(dirs: Iterable<string>): void {
    if (this.closed) return;
    const want = new Set(dirs);
    for (const [d, w] of this.watchers) if (!want.has(d)) { w.close(); this.watchers.delete(d); }
    for (const d of want) {
      if (this.watchers.has(d)) continue;
      try {
        const w = watch(d, { persistent: false }, (ev, name) => {
          if (this.opts.renamesOnly && ev !== 'rename') return;
          this.event(d, name === null ? null : String(name));
        });
        // A watched dir that is removed reports an error; the next rescan re-adds it.
        w.on('error', () => { w.close(); this.watchers.delete(d); this.event(d, null); });
        this.watchers.set(d, w);
      } catch {
        // ENOENT: not there yet; the caller also watches an existing ancestor.
      }
    }
  }

  dirs(): string[] { return [...this.watchers.keys()]; }

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
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
  }
}
