// The version of a Go-built conformance tool, read from the binary itself
// (`go version -m` prints the module versions the linker embedded), so a
// test states which tool it ran instead of assuming whatever is on PATH.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const GO_CANDIDATES = ['/usr/local/go/bin/go', 'go'];

export function goModuleVersion(binary: string, module: string): string {
  const go = GO_CANDIDATES.find((g) => !g.startsWith('/') || existsSync(g))!;
  const info = execFileSync(go, ['version', '-m', binary], { encoding: 'utf8' });
  const line = info.split('\n').find((l) => l.trim().split(/\s+/)[1] === module && /^\s*mod\s/.test(l));
  if (!line) throw new Error(`${binary} has no module ${module} in its build info:\n${info}`);
  return line.trim().split(/\s+/)[2]!;
}
