// What every flow file does around its tests: the node installed, a
// namespace of its own, and the flow's wall time recorded (timings.ts) with
// the namespace removed afterwards.
import { afterAll, beforeAll } from 'vitest';
import { ensureInstalled } from './install.ts';
import { deleteNamespace, namespace } from './kube.ts';
import { record } from './timings.ts';

export function flowLifecycle(ns: string, label: string): void {
  let t0 = 0;
  beforeAll(async () => {
    await ensureInstalled();
    await namespace(ns);
    t0 = Date.now();
  }, 600_000);
  afterAll(() => {
    record(label, Date.now() - t0);
    deleteNamespace(ns);
  });
}
