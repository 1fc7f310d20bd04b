// npm run image: builds dist/hostplane-image.tar with no container engine.
//   layer 1: Debian packages (host tools + the libraries Node needs), unpacked
//   layer 2: the built dist/ at /opt/hostplane
// The .debs are cached in ~/.cache/hostplane/debs (HOSTPLANE_DEB_CACHE).
// `--rootfs-only DIR` stops after layer 1's tree (daemonset/image/Containerfile
// uses it, so a builder produces the same contents).
import { cp, mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { homedir, tmpdir } from 'node:os';
import { PACKAGES, resolveClosure, downloadDebs } from './packages.ts';
import { buildRootfs } from './rootfs.ts';
import { writeLayer, writeImage, packLayout } from './oci.ts';
import { VERSION } from '../../lib/version.ts';
import { NODE_FLAGS } from './node-flags.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');
const APP_DIR = '/opt/hostplane';

export const IMAGE_ENTRYPOINT = [`${APP_DIR}/node`, ...NODE_FLAGS, `${APP_DIR}/hostplane.mjs`];

function flag(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

async function main(argv: string[]): Promise<void> {
  const version = VERSION;
  const ref = flag(argv, '--tag') ?? `localhost/hostplane:${version}`;
  const out = resolve(flag(argv, '--out') ?? join(ROOT, 'dist', 'hostplane-image.tar'));
  const cache = process.env.HOSTPLANE_DEB_CACHE ?? join(homedir(), '.cache', 'hostplane', 'debs');
  const rootfsOnly = flag(argv, '--rootfs-only');

  const t0 = Date.now();
  const pkgs = await resolveClosure(PACKAGES);
  const debs = await downloadDebs(pkgs, cache);
  if (rootfsOnly) {
    await buildRootfs(debs, resolve(rootfsOnly));
    process.stdout.write(`rootfs of ${pkgs.length} packages in ${rootfsOnly}\n`);
    return;
  }
  const dist = join(ROOT, 'dist');
  for (const f of ['node', 'hostplane.mjs', 'cni/hostplane', 'proto']) {
    if (!existsSync(join(dist, f))) throw new Error(`dist/${f} is missing: run npm run build first (npm run image does)`);
  }

  const work = await mkdtemp(join(tmpdir(), 'hostplane-image-'));
  try {
    const rootfs = join(work, 'rootfs');
    await buildRootfs(debs, rootfs);
    const app = join(work, 'app');
    await mkdir(join(app, 'opt'), { recursive: true });
    await cp(dist, join(app, APP_DIR), {
      recursive: true,
      filter: (src) => !src.startsWith(out) && !src.endsWith('.tar') && !src.endsWith('.tmp'),
    });
    const layout = join(work, 'layout');
    const layers = [
      await writeLayer(layout, rootfs, `debian bookworm packages: ${pkgs.join(' ')}`),
      await writeLayer(layout, app, `hostplane ${version} (dist/ at ${APP_DIR})`),
    ];
    const manifest = await writeImage(layout, ref, layers, {
      entrypoint: IMAGE_ENTRYPOINT,
      cmd: ['agent', '--config', '/etc/hostplane/agent.yaml'],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      labels: { 'org.opencontainers.image.title': 'hostplane', 'org.opencontainers.image.version': version },
    });
    await mkdir(join(out, '..'), { recursive: true });
    await packLayout(layout, out);
    const size = (await stat(out)).size;
    process.stdout.write(
      `${out}: ${ref} ${manifest.digest} (${(size / 1048576).toFixed(1)} MiB, ${pkgs.length} packages, ${((Date.now() - t0) / 1000).toFixed(1)} s)\n`,
    );
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

if (import.meta.main ?? process.argv[1] === import.meta.filename) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`image build failed: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  });
}
