// A test-only preload (`node --import test/support/memory-probe.ts ...`) for
// measuring a long-running hostplane process from outside: it answers the
// message "memory" on the IPC channel its parent opened with the process's
// memory after two full garbage collections — V8's heap (used and total) and
// the kernel's VmRSS / RssAnon / RssFile. The product code is unchanged; the
// probe only reads, and keeps no reference to anything of the program.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { readFileSync } from 'node:fs';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

export interface MemorySample {
  heapUsed: number;
  heapTotal: number;
  rss: number;
  rssAnon: number;
  rssFile: number;
}

function kib(status: string, key: string): number {
  return Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN) * 1024;
}

process.on('message', (m) => {
  if (m !== 'memory') return;
  gc();
  gc();
  const status = readFileSync('/proc/self/status', 'utf8');
  const { heapUsed, heapTotal } = process.memoryUsage();
  const sample: MemorySample = { heapUsed, heapTotal, rss: kib(status, 'VmRSS'), rssAnon: kib(status, 'RssAnon'), rssFile: kib(status, 'RssFile') };
  process.send?.(sample);
});
// The channel must not keep the program alive (it exits on SIGTERM as usual).
process.channel?.unref();
