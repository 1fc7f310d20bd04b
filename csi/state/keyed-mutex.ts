// Serialises work per key (a volume or snapshot id): a CO retries calls it
// thinks timed out, so two Stages of one volume may arrive together. They
// queue here instead of racing on the same loop device or mount point, and
// calls for different volumes still run in parallel.
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => {
      release = r;
    });
    const tail = prev.then(() => mine);
    this.tails.set(key, tail);
    await prev;
    try {
      return await fn();
    } finally {
      release();
      // Forget the key once nobody queued behind us, so the map stays small.
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  /** Keys with a call running or queued (for tests and stats). */
  get busy(): number {
    return this.tails.size;
  }
}
