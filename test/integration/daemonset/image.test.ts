// npm run image's tarball: a valid OCI layout + docker manifest with
// deterministic layers, imported into a real containerd (started here with
// its own dirs and socket) and run with ctr: the agent starts, answers
// /healthz, its CSI socket (bind-mounted to the host) answers Probe, and it
// exits 0 on SIGTERM.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, statSync, mkdtempSync, rmSync, readFileSync, writeFileSync, mkdirSync, utimesSync, readdirSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { stringify } from 'yaml';
import { startContainerd, type Containerd } from './containerd.ts';
import { writeLayer, sha256File } from '../../../daemonset/image/oci.ts';
import { IMAGE_ENTRYPOINT } from '../../../daemonset/image/build.ts';
import { csiClient } from '../csi/client.ts';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const IMAGE = join(ROOT, 'dist', 'hostplane-image.tar');
const REF = `localhost/hostplane:${(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version}`;
let work: string;

beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist', 'hostplane.mjs'))) execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' });
  const stale = !existsSync(IMAGE) || statSync(IMAGE).mtimeMs < statSync(join(ROOT, 'dist', 'hostplane.mjs')).mtimeMs;
  if (stale)
    execFileSync(join(ROOT, 'node_modules', '.bin', 'node'), [join(ROOT, 'daemonset', 'image', 'build.ts')], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'inherit'],
      timeout: 590_000,
    });
  work = mkdtempSync(join(tmpdir(), 'hp-image-'));
}, 600_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('image tarball', () => {
  it('holds an OCI layout and a docker manifest.json naming the same blobs, every digest correct', async () => {
    const layout = join(work, 'layout');
    mkdirSync(layout);
    execFileSync('tar', ['-xf', IMAGE, '-C', layout]);
    expect(JSON.parse(readFileSync(join(layout, 'oci-layout'), 'utf8'))).toEqual({ imageLayoutVersion: '1.0.0' });
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
    expect(index.manifests).toHaveLength(1);
    expect(index.manifests[0].annotations['io.containerd.image.name']).toBe(REF);
    for (const f of readdirSync(join(layout, 'blobs', 'sha256'))) {
      expect(await sha256File(join(layout, 'blobs', 'sha256', f))).toBe(`sha256:${f}`);
    }
    const blob = (d: string) => join(layout, 'blobs', 'sha256', d.slice(7));
    const manifest = JSON.parse(readFileSync(blob(index.manifests[0].digest), 'utf8'));
    const config = JSON.parse(readFileSync(blob(manifest.config.digest), 'utf8'));
    expect(config.config.Entrypoint).toEqual(IMAGE_ENTRYPOINT);
    expect(config.rootfs.diff_ids).toHaveLength(manifest.layers.length);
    for (const [i, l] of (manifest.layers as Array<{ digest: string; size: number }>).entries()) {
      expect(statSync(blob(l.digest)).size).toBe(l.size);
      const diff = execFileSync('sh', ['-c', 'gzip -dc "$1" | sha256sum', 'sh', blob(l.digest)], { encoding: 'utf8' }).split(' ')[0];
      expect(`sha256:${diff}`).toBe(config.rootfs.diff_ids[i]);
    }
    const docker = JSON.parse(readFileSync(join(layout, 'manifest.json'), 'utf8'));
    expect(docker).toEqual([
      {
        Config: `blobs/sha256/${manifest.config.digest.slice(7)}`,
        RepoTags: [REF],
        Layers: manifest.layers.map((l: { digest: string }) => `blobs/sha256/${l.digest.slice(7)}`),
      },
    ]);
  });

  it('carries the node runtime, the bundle, the CNI binary and the host tools', () => {
    const listing = execFileSync(
      'sh',
      ['-c', 'for l in "$1"/blobs/sha256/*; do if gzip -t "$l" 2>/dev/null; then tar -tzf "$l"; fi; done', 'sh', join(work, 'layout')],
      { encoding: 'utf8', maxBuffer: 64 << 20 },
    );
    const entries = new Set(listing.split('\n').map((e) => e.replace(/^\.\//, '')));
    for (const f of [
      'opt/hostplane/node',
      'opt/hostplane/hostplane.mjs',
      'opt/hostplane/cni/hostplane',
      'opt/hostplane/proto/csi.proto',
      'usr/sbin/ip',
      'usr/sbin/nft',
      'usr/sbin/xtables-nft-multi',
      'usr/sbin/iptables',
      'usr/sbin/losetup',
      'usr/bin/mount',
      'usr/sbin/mkfs.ext4',
      'usr/sbin/mkfs.xfs',
      'usr/bin/kmod',
      'usr/lib/x86_64-linux-gnu/libc.so.6',
      'usr/lib/x86_64-linux-gnu/libstdc++.so.6',
      'etc/passwd',
      'etc/group',
      'etc/ld.so.cache',
      'tmp/',
      'bin',
      'usr/bin/sh',
    ]) {
      expect(entries.has(f) || entries.has(`${f}/`), f).toBe(true);
    }
  });
});

describe('image layers', () => {
  it('are deterministic: same tree, other mtimes and owners → same digests; entries root-owned at mtime 0', async () => {
    const tree = join(work, 'tree');
    mkdirSync(join(tree, 'b'), { recursive: true });
    writeFileSync(join(tree, 'b', 'z'), 'z');
    writeFileSync(join(tree, 'a'), 'a');
    const first = await writeLayer(join(work, 'l1'), tree, 'x');
    utimesSync(join(tree, 'a'), new Date(), new Date(2001, 1, 1));
    execFileSync('chown', ['65534:65534', join(tree, 'b', 'z')]);
    const second = await writeLayer(join(work, 'l2'), tree, 'x');
    expect(second.digest).toBe(first.digest);
    expect(second.diffId).toBe(first.diffId);
    const list = execFileSync('tar', ['--numeric-owner', '-tvzf', join(work, 'l2', 'blobs', 'sha256', second.digest.slice(7))], {
      encoding: 'utf8',
      env: { ...process.env, TZ: 'UTC' },
    })
      .trim()
      .split('\n');
    expect(list.map((l) => l.split(/\s+/).at(-1))).toEqual(['./', './a', './b/', './b/z']);
    for (const l of list) expect(l).toMatch(/ 0\/0 .* 1970-01-01 00:00 /);
  });
});

describe('image in containerd', () => {
  let ctrd: Containerd | undefined;
  afterAll(async () => {
    await ctrd?.stop();
  }, 60_000);

  it('imports with ctr, runs the agent (/healthz, CSI Probe through a bind mount) and exits 0 on SIGTERM', async () => {
    ctrd = await startContainerd();
    const out = ctrd.ctr(['images', 'import', IMAGE], { timeoutMs: 300_000 });
    expect(out).toContain(REF);
    expect(ctrd.ctr(['images', 'ls', '-q'])).toContain(REF);

    const share = join(ctrd.dir, 'share');
    mkdirSync(share);
    const port = await freePort();
    writeFileSync(
      join(share, 'agent.yaml'),
      stringify({
        nodeName: 'ctr-node',
        http: { address: '127.0.0.1', port },
        cni: {
          binDir: '/run/hp-test/cni-bin',
          confDir: '/run/hp-test/net.d',
          ipamDataDir: '/run/hp-test/ipam',
          podCIDRs: ['10.88.0.0/24'],
          server: { socket: '/run/hp-test/cni.sock' },
        },
        csi: { endpoint: 'unix:///run/hp-test/csi/csi.sock', dataDir: '/run/hp-test/csi-data', pluginsRegistry: '/run/hp-test/registry' },
        devicePlugin: {
          kubeletDir: '/run/hp-test/device-plugins',
          pluginsRegistry: '/run/hp-test/registry',
          cdiDir: '/run/hp-test/cdi',
          config: { resources: [{ name: 'hostplane.dev/null', devices: [{ path: '/dev/null' }] }] },
        },
      }),
    );
    const id = `hp-agent-${process.pid}`;
    const run = spawn(
      'ctr',
      [
        '-a',
        ctrd.address,
        '-n',
        'k8s.io',
        'run',
        '--rm',
        '--net-host',
        '--privileged',
        '--mount',
        `type=bind,src=${share},dst=/run/hp-test,options=rbind:rw`,
        REF,
        id,
        ...IMAGE_ENTRYPOINT,
        'agent',
        '--config',
        '/run/hp-test/agent.yaml',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let logs = '';
    run.stdout!.on('data', (b: Buffer) => {
      logs += b.toString();
    });
    run.stderr!.on('data', (b: Buffer) => {
      logs += b.toString();
    });
    const exited = new Promise<number | null>((resolve) => run.once('exit', (code) => resolve(code)));

    const deadline = Date.now() + 60_000;
    for (;;) {
      const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok && logs.includes('"agent started"')) break;
      if (run.exitCode !== null || Date.now() > deadline) throw new Error(`agent in the container did not come up: ${logs.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const csi = csiClient(join(share, 'csi', 'csi.sock'));
    try {
      expect(await csi.identity.Probe!({})).toMatchObject({ ready: { value: true } });
    } finally {
      csi.close();
    }
    expect(JSON.parse(readFileSync(join(share, 'net.d', '10-hostplane.conflist'), 'utf8')).plugins[0].ipam.ranges).toEqual([[{ subnet: '10.88.0.0/24' }]]);
    expect(existsSync(join(share, 'cni-bin', 'hostplane'))).toBe(true);

    ctrd.ctr(['task', 'kill', '-s', 'SIGTERM', id]);
    expect(await exited).toBe(0);
    expect(logs).toContain('agent stopped');
  }, 400_000);
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}
