// vitest globalSetup for the suites that exec the built artifacts
// (dist/cni/hostplane, dist/hostplane): rebuild them when any source is newer
// than the build, so `npm run test:integration` never tests stale binaries.
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');
const sources = ['agent', 'cni', 'csi', 'device-plugin', 'lib', 'proto', 'main.ts', 'scripts/build.ts', 'package-lock.json'];
const outputs = ['dist/cni/hostplane', 'dist/hostplane.mjs'];

function newestMtime(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const name of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, name)));
  return newest;
}

function oldestOutput(): number {
  try {
    return Math.min(...outputs.map((o) => statSync(join(root, o)).mtimeMs));
  } catch {
    return -1; // missing: build
  }
}

export default function setup(): void {
  const built = oldestOutput();
  const source = Math.max(...sources.map((s) => newestMtime(join(root, s))));
  if (built >= source) return;
  process.stderr.write(`[fresh-dist] ${built < 0 ? 'dist/ missing' : 'sources newer than dist/'}: npm run build\n`);
  execFileSync(process.execPath, [join(root, 'scripts', 'build.ts')], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
}
