// A HostExec that runs at most `max` tools at once and queues the rest. The
// agent serves many CNI requests concurrently; 50 parallel ADDs must not fork
// 50 `ip`s onto two cores at once (each fork competes with the kernel work the
// ADDs are waiting for).
import type { HostExec, ExecOptions, ExecResult } from './exec.ts';

export class LimitedExec implements HostExec {
  private readonly inner: HostExec;
  private readonly max: number;
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  /** Highest number of tools that ran at once (tests and metrics). */
  peak = 0;

  constructor(inner: HostExec, max: number) {
    if (!(max >= 1)) throw new Error(`LimitedExec: max must be at least 1, got ${max}`);
    this.inner = inner;
    this.max = max;
  }

  async run(file: string, args: readonly string[], opts?: ExecOptions): Promise<ExecResult> {
    if (this.active >= this.max) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    this.peak = Math.max(this.peak, this.active);
    try {
      return await this.inner.run(file, args, opts);
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}
