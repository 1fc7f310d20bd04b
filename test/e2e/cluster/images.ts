// Every image the install needs, built with the project's own OCI writer
// (daemonset/image/oci.ts, no container engine) and imported into the
// node's containerd under exactly the names the manifests use: nothing is
// ever pulled. Tarballs are cached by the content they are made from
// (CACHE/images/<name>-<key>.tar), so a warm run only imports.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
  chmodSync,
  copyFileSync,
  renameSync,
} from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { writeLayer, writeImage, packLayout } from '../../../daemonset/image/oci.ts';
import { BIN, CONTAINERD_SOCK, DIR, IMAGES, REPO } from './layout.ts';

const PAUSE_C = `
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
/* The sandbox's pid 1: reap children, exit 0 on SIGTERM/SIGINT, else sleep. */
static void done(int s) { (void)s; _exit(0); }
static void reap(int s) { (void)s; while (waitpid(-1, 0, WNOHANG) > 0) {} }
int main(void) {
  struct sigaction a; memset(&a, 0, sizeof a);
  a.sa_handler = done; sigaction(SIGTERM, &a, 0); sigaction(SIGINT, &a, 0);
  a.sa_handler = reap; a.sa_flags = SA_NOCLDSTOP | SA_RESTART; sigaction(SIGCHLD, &a, 0);
  for (;;) pause();
}
`;

function keyOf(...parts: Array<string | Buffer>): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex').slice(0, 16);
}

function fileKey(path: string): string {
  const st = statSync(path);
  return `${path}:${st.size}:${st.mtimeMs}`;
}

/** A rootfs with the passwd/group/tmp every image here wants. */
function baseTree(dir: string): void {
  mkdirSync(join(dir, 'etc'), { recursive: true });
  mkdirSync(join(dir, 'tmp'), { recursive: true });
  chmodSync(join(dir, 'tmp'), 0o1777);
  writeFileSync(join(dir, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n');
  writeFileSync(join(dir, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');
}

async function buildImage(name: string, ref: string, key: string, fill: (tree: string) => void, entrypoint: string[], cmd: string[] = []): Promise<string> {
  mkdirSync(DIR.images, { recursive: true });
  const out = join(DIR.images, `${name}-${key}.tar`);
  if (existsSync(out)) return out;
  const work = mkdtempSync(join(tmpdir(), `hp-e2e-img-${name}-`));
  try {
    const tree = join(work, 'tree');
    mkdirSync(tree);
    baseTree(tree);
    fill(tree);
    const layout = join(work, 'layout');
    const layer = await writeLayer(layout, tree, `hostplane e2e ${name}`);
    await writeImage(layout, ref, [layer], { entrypoint, cmd, env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], labels: {} });
    await packLayout(layout, `${out}.tmp`);
    renameSync(`${out}.tmp`, out);
    return out;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function pauseImage(): Promise<string> {
  return buildImage(
    'pause',
    IMAGES.pause,
    keyOf(PAUSE_C, IMAGES.pause),
    (tree) => {
      const src = join(tree, '..', 'pause.c');
      writeFileSync(src, PAUSE_C);
      execFileSync('gcc', ['-static', '-Os', '-s', '-o', join(tree, 'pause'), src]);
    },
    ['/pause'],
  );
}

function busyboxImage(): Promise<string> {
  const bb = '/bin/busybox';
  if (!existsSync(bb)) throw new Error('/bin/busybox is missing: install Debian busybox-static (scripts/setup.sh does)');
  return buildImage(
    'busybox',
    IMAGES.busybox,
    keyOf(fileKey(bb), IMAGES.busybox),
    (tree) => {
      mkdirSync(join(tree, 'bin'));
      copyFileSync(bb, join(tree, 'bin', 'busybox'));
      chmodSync(join(tree, 'bin', 'busybox'), 0o755);
      const applets = execFileSync(bb, ['--list'], { encoding: 'utf8' })
        .split('\n')
        .filter((a) => a && a !== 'busybox');
      for (const a of applets) symlinkSync('busybox', join(tree, 'bin', a));
      for (const d of ['usr', 'sbin', 'data', 'proc', 'sys', 'dev', 'root']) mkdirSync(join(tree, d), { recursive: true });
    },
    [],
    ['sh'],
  );
}

/** One static binary as the entrypoint, like the upstream distroless sidecar images. */
function binaryImage(name: string, ref: string, bin: string): Promise<string> {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run bash test/e2e/build-tools.sh`);
  const base = bin.split('/').pop()!;
  return buildImage(
    name,
    ref,
    keyOf(fileKey(bin), ref),
    (tree) => {
      copyFileSync(bin, join(tree, base));
      chmodSync(join(tree, base), 0o755);
    },
    [`/${base}`],
  );
}

/**
 * The agent image `npm run image` makes, cached by the content it is made of
 * (the bundle, the CNI binary, the protos, the runtime, the image recipe): npm
 * test rebuilds dist/ every run, and the image takes a minute or two to pack.
 */
function agentImage(): string {
  const dist = join(REPO, 'dist');
  for (const f of ['hostplane.mjs', 'cni/hostplane', 'node']) {
    if (!existsSync(join(dist, f))) throw new Error(`dist/${f} is missing: run npm run build first (npm test and npm run e2e do)`);
  }
  const h = createHash('sha256');
  const files = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true })
      .sort((a, b) => a.name.localeCompare(b.name))
      .flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]));
  for (const f of [
    // The entry and the chunks it loads (scripts/build.ts splits the bundle).
    ...readdirSync(dist)
      .filter((f) => f.endsWith('.mjs'))
      .sort()
      .map((f) => join(dist, f)),
    join(dist, 'cni', 'hostplane'),
    ...files(join(dist, 'proto')),
    ...files(join(REPO, 'daemonset', 'image')),
    join(REPO, 'package.json'),
  ]) {
    h.update(f.slice(REPO.length)).update(readFileSync(f));
  }
  h.update(String(statSync(join(dist, 'node')).size));
  const cached = join(DIR.images, `agent-${h.digest('hex').slice(0, 16)}.tar`);
  // `npm run image` (and the image integration test) may have packed this very dist/ already.
  const packed = join(dist, 'hostplane-image.tar');
  if (!existsSync(cached) && existsSync(packed) && statSync(packed).mtimeMs > statSync(join(dist, 'hostplane.mjs')).mtimeMs) {
    mkdirSync(DIR.images, { recursive: true });
    copyFileSync(packed, `${cached}.tmp`);
    renameSync(`${cached}.tmp`, cached);
  }
  if (!existsSync(cached)) {
    mkdirSync(DIR.images, { recursive: true });
    execFileSync(join(REPO, 'node_modules', '.bin', 'node'), [join(REPO, 'daemonset', 'image', 'build.ts'), '--out', `${cached}.tmp`], {
      cwd: REPO,
      stdio: ['ignore', 'ignore', 'inherit'],
      timeout: 600_000,
    });
    renameSync(`${cached}.tmp`, cached);
  }
  // Every code change makes a new one (~130 MiB): keep the three newest.
  const olds = readdirSync(DIR.images)
    .filter((f) => /^agent-[0-9a-f]+\.tar$/.test(f))
    .map((f) => join(DIR.images, f))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)
    .slice(3);
  for (const f of olds) if (f !== cached) rmSync(f, { force: true });
  return cached;
}

export function ctr(args: string[], timeout = 120_000): string {
  return execFileSync(BIN.ctr, ['-a', CONTAINERD_SOCK, '-n', 'k8s.io', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout });
}

export async function buildImages(): Promise<string[]> {
  return [
    agentImage(),
    await pauseImage(),
    await busyboxImage(),
    await binaryImage('csi-provisioner', IMAGES.provisioner, BIN.provisioner),
    await binaryImage('csi-resizer', IMAGES.resizer, BIN.resizer),
    await binaryImage('csi-snapshotter', IMAGES.snapshotter, BIN.snapshotter),
    await binaryImage('snapshot-controller', IMAGES.snapshotController, BIN.snapshotController),
  ];
}

export function importImages(tars: string[]): void {
  // --local: no transfer service round trips; unpacked for the CRI's snapshotter.
  for (const t of tars) ctr(['images', 'import', '--local', t], 300_000);
}
