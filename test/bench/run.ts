// npm run bench: runs each plugin's benchmark in turn, each in its own
// process so one's warm caches and timers don't colour another's numbers,
// and writes what each printed into test/bench/README.md. That file is the
// only place numbers are kept: docs link to it instead of copying figures
// that go stale.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { join } from 'node:path';

const benches = ['cni', 'csi', 'footprint', 'device-plugin', 'routing', 'pod-latency'];
const only = process.argv.slice(2);
const readme = join(import.meta.dirname, 'README.md');

function runOne(file: string): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
      process.stdout.write(d);
    });
    child.on('close', (status) => resolve({ status, output }));
  });
}

/** Replace (or append) the section of one bench between its markers. */
function withSection(doc: string, name: string, body: string): string {
  const begin = `<!-- bench:${name} -->`;
  const end = `<!-- /bench:${name} -->`;
  const section = `${begin}\n${body}\n${end}`;
  const i = doc.indexOf(begin);
  const j = doc.indexOf(end);
  if (i >= 0 && j > i) return doc.slice(0, i) + section + doc.slice(j + end.length);
  return `${doc.trimEnd()}\n\n${section}\n`;
}

const header = `# Benchmark results

Written by \`npm run bench\` (test/bench/run.ts): each section is the verbatim output of the last run of that
benchmark, with the date and machine it ran on. Every figure is a median or a tail percentile of interleaved
runs against a reference measured in the same run; compare ratios, not absolute times (shared machines are noisy).
Do not edit by hand: run \`npm run bench\` (or \`npm run bench -- NAME\`) and commit the result.
`;

let doc = existsSync(readme) ? readFileSync(readme, 'utf8') : header;
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
  const r = await runOne(file);
  if (r.status !== 0) {
    failed++;
    continue; // keep the last good numbers rather than a failed run's
  }
  const machine = `${cpus().length} cores, ${cpus()[0]?.model ?? 'unknown cpu'}, Linux ${release()}, Node ${process.versions.node}`;
  doc = withSection(doc, name, `## ${name}\n\nRun ${new Date().toISOString().slice(0, 16)}Z on ${machine}:\n\n\`\`\`\n${r.output.trimEnd()}\n\`\`\``);
}
writeFileSync(readme, doc);
process.exitCode = failed ? 1 : 0;
