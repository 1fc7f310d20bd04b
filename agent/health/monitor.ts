// Liveness that means something: every intervalMs each started component is
// asked, through its own API and with a deadline, whether it still answers.
// /healthz then fails while any check fails (kubelet restarts the pod after
// failureThreshold misses) and /readyz names the failing components.
// Checks run in the background rather than per request: kubelet's probe
// timeout (1 s by default) must not race the deadlines, and a flood of probes
// must not become a flood of gRPC calls. A wedged event loop needs no check:
// it cannot answer /healthz at all.
import type { Logger } from '../../lib/logging.ts';
import { errorMessage } from '../../lib/errors.ts';

export interface HealthCheck {
  /** The component's name as /readyz reports it: csi, csi-registration, device-plugin, cni. */
  component: string;
  /** Resolves when healthy; throws a reason. Given the deadline to pass on. */
  check(deadlineMs: number): Promise<void>;
}

export interface HealthMonitorOptions {
  intervalMs: number;
  deadlineMs: number;
  log: Logger;
}

export const HEALTH_DEFAULTS = { intervalMs: 5000, deadlineMs: 3000 };

export class HealthMonitor {
  private readonly checks: HealthCheck[] = [];
  private failing = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly opts: HealthMonitorOptions;

  constructor(opts: HealthMonitorOptions) {
    this.opts = opts;
  }

  add(check: HealthCheck): void {
    this.checks.push(check);
  }

  /** Every checked component and whether its last check passed. */
  states(): Array<{ component: string; healthy: boolean }> {
    return [...new Set(this.checks.map((c) => c.component))].map((component) => ({ component, healthy: !this.failing.has(component) }));
  }

  /** Components failing their last check, with the reason. */
  failures(): Array<{ component: string; reason: string }> {
    return [...this.failing].map(([component, reason]) => ({ component, reason }));
  }

  /** Run every check once now (in parallel); the result replaces the last one. */
  checkNow(): Promise<void> {
    this.running ??= this.runAll().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async runAll(): Promise<void> {
    const { deadlineMs, log } = this.opts;
    const results = await Promise.all(
      this.checks.map(async (c) => {
        let timer: NodeJS.Timeout | undefined;
        try {
          // The check's own deadline should fire first; this one catches a check that ignores it.
          await Promise.race([
            c.check(deadlineMs),
            new Promise<never>((_, reject) => {
              timer = setTimeout(() => reject(new Error(`no answer in ${deadlineMs} ms`)), deadlineMs + 500);
            }),
          ]);
          return [c.component, undefined] as const;
        } catch (e) {
          return [c.component, errorMessage(e)] as const;
        } finally {
          clearTimeout(timer);
        }
      }),
    );
    // Components are closing on shutdown: their checks failing then means nothing.
    if (this.stopped) return;
    const next = new Map<string, string>();
    for (const [component, reason] of results) {
      if (reason === undefined) continue;
      next.set(component, next.has(component) ? `${next.get(component)}; ${reason}` : reason);
    }
    for (const [component, reason] of next) if (this.failing.get(component) !== reason) log.error({ component, reason }, 'component unhealthy');
    for (const component of this.failing.keys()) if (!next.has(component)) log.info({ component }, 'component healthy again');
    this.failing = next;
  }

  start(): void {
    const loop = () => {
      if (this.stopped) return;
      this.timer = setTimeout(() => {
        void this.checkNow().finally(loop);
      }, this.opts.intervalMs);
      this.timer.unref();
    };
    void this.checkNow().finally(loop);
  }

  /** Stop checking. A check in flight is not waited for (it may be on its deadline): its result is dropped. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}
