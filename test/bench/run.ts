// npm run bench: runs each plugin's benchmark in turn, each in its own
// process so one's warm caches and timers don't colour another's numbers.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const benches = ['cni', 'csi', 'device-plugin', 'pod-latency'];
const only = process.argv.slice(2);
let failed = 0;
for (const name of benches) {
  if (only.length && !only.includes(name)) continue;
  const file = join(import.meta.dirname, `${name}.ts`);
  if (!existsSync(file)) {
    process.stdout.write(`\n== ${name}: no benchmark (${file} missing)\n`);
    failed++;
    continue;
  }
  process.stdout.write(`\n== ${name}\n`);
  const r = spawnSync(process.execPath, [file], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exitCode = failed ? 1 : 0;
