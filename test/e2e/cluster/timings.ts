// Timings the e2e files measure, appended to one file the summary reads
// (the report's numbers: install, each flow, restarts).
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { DIR } from './layout.ts';

export function record(what: string, ms: number): void {
  appendFileSync(join(DIR.logs, 'timings.txt'), `${what}: ${(ms / 1000).toFixed(2)} s\n`);
  process.stderr.write(`[e2e timing] ${what}: ${(ms / 1000).toFixed(2)} s\n`);
}
