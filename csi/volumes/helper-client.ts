// The driver's side of `hostplane csi-helper` (helper-serve.ts): one
// process of the bun-compiled executable doing mount, umount and loop-device
// syscalls on request (lib/line-helper.ts runs it). RealFilesystems and
// RealLoopDevices ask it first and run the util-linux tool when it answers
// "unsupported", cannot start (an old or missing binary: retried a minute
// later) or died with the request in flight (HelperExitedError: the caller
// looks at what is on the host before redoing the work with the tool).
//
// A node's volumes change in bursts (pods starting or going); between them
// the helper would hold ~35 MiB (the bun runtime's pages) for nothing. So it
// stops after IDLE_MS without a request and starts again (tens of ms) on the
// next one; the reads kubelet makes between bursts (stats) never need it.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { LineHelper, type LineHelperLog } from '../../lib/line-helper.ts';
import type { HelperReply, HelperRequest } from './helper-protocol.ts';

export { HelperExitedError } from '../../lib/line-helper.ts';

const IDLE_MS = 30_000;

export interface CsiHelperOptions {
  /** The bun-compiled executable (dist/cni/hostplane), run as `BIN csi-helper`. */
  binary: string;
  log?: LineHelperLog;
  readyMs?: number;
  /** How long to do without a helper that would not start. */
  retryMs?: number;
  /** How long the helper may sit with nothing to do before it is stopped (default 30 s). */
  idleMs?: number;
}

type Request = HelperRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

/** The executable beside the running bundle (dist/hostplane.mjs → dist/cni/hostplane), if there is one. */
export function defaultHelperBinary(entry = process.argv[1]): string | undefined {
  if (!entry) return undefined;
  const bin = join(dirname(entry), 'cni', 'hostplane');
  return existsSync(bin) ? bin : undefined;
}

export class CsiHelper {
  private readonly helper: LineHelper<HelperReply>;

  constructor(opts: CsiHelperOptions) {
    this.helper = new LineHelper<HelperReply>({
      binary: opts.binary,
      mode: 'csi-helper',
      name: 'csi helper',
      fallback: 'mounts and loop devices use the util-linux tools',
      idleMs: opts.idleMs ?? IDLE_MS,
      ...(opts.log ? { log: opts.log } : {}),
      ...(opts.readyMs !== undefined ? { readyMs: opts.readyMs } : {}),
      ...(opts.retryMs !== undefined ? { retryMs: opts.retryMs } : {}),
    });
  }

  /** The helper's answer; undefined when there is no helper now (use the tool). Rejects with HelperExitedError if it died meanwhile. */
  call(req: Request): Promise<HelperReply | undefined> {
    return this.helper.call(req);
  }

  /** The helper's pid while it runs (tests). */
  get pid(): number | undefined {
    return this.helper.pid;
  }

  /** Requests the helper answered (tests, logs). */
  get served(): number {
    return this.helper.served;
  }

  close(): void {
    this.helper.close();
  }
}
