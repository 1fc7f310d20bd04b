// Writes an image as an OCI image layout plus a docker-save manifest.json in
// one tarball, so both `ctr images import` and `docker load` take it. Every
// byte is deterministic: layer tars list entries sorted, with mtime 0 and
// uid/gid 0; gzip -n leaves out name and time; JSON has a fixed key order and
// no creation time. The same inputs always give the same digests.
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rename, stat, writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';

export const MEDIA = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
} as const;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}
export interface Layer extends Descriptor {
  diffId: string;
  createdBy: string;
}

export const TAR_FLAGS = ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '--format=gnu'];

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return `sha256:${h.digest('hex')}`;
}

const blobPath = (layout: string, digest: string) => join(layout, 'blobs', 'sha256', digest.slice('sha256:'.length));

/** Tar `dir` into one gzip'd layer blob inside `layout`. */
export async function writeLayer(layout: string, dir: string, createdBy: string): Promise<Layer> {
  await mkdir(join(layout, 'blobs', 'sha256'), { recursive: true });
  const tar = join(layout, `layer-${process.pid}-${Date.now()}.tar`);
  await execa('tar', [...TAR_FLAGS, '-C', dir, '-cf', tar, '.']);
  const diffId = await sha256File(tar);
  await execa('gzip', ['-n', '-6', '-f', tar]);
  const gz = `${tar}.gz`;
  const digest = await sha256File(gz);
  const size = (await stat(gz)).size;
  await rename(gz, blobPath(layout, digest));
  return { mediaType: MEDIA.layer, digest, size, diffId, createdBy };
}

async function writeJsonBlob(layout: string, mediaType: string, value: unknown): Promise<Descriptor> {
  const bytes = Buffer.from(JSON.stringify(value));
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  await writeFile(blobPath(layout, digest), bytes);
  return { mediaType, digest, size: bytes.length };
}

export interface ImageConfig {
  entrypoint: string[];
  cmd: string[];
  env: string[];
  labels: Record<string, string>;
}

/** Config, manifest, index.json, oci-layout and manifest.json for `layers` already in `layout`. */
export async function writeImage(layout: string, ref: string, layers: Layer[], cfg: ImageConfig): Promise<Descriptor> {
  const config = await writeJsonBlob(layout, MEDIA.config, {
    architecture: 'amd64',
    os: 'linux',
    created: '1970-01-01T00:00:00Z',
    config: { Env: cfg.env, Entrypoint: cfg.entrypoint, Cmd: cfg.cmd, WorkingDir: '/', Labels: cfg.labels },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((l) => ({ created: '1970-01-01T00:00:00Z', created_by: l.createdBy })),
  });
  const manifest = await writeJsonBlob(layout, MEDIA.manifest, {
    schemaVersion: 2,
    mediaType: MEDIA.manifest,
    config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  });
  const tag = ref.slice(ref.lastIndexOf(':') + 1);
  await writeFile(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(
    join(layout, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.index,
      manifests: [{ ...manifest, annotations: { 'io.containerd.image.name': ref, 'org.opencontainers.image.ref.name': tag } }],
    }),
  );
  // docker load reads this (it detects the gzip'd layers itself).
  const rel = (d: string) => `blobs/sha256/${d.slice('sha256:'.length)}`;
  await writeFile(join(layout, 'manifest.json'), JSON.stringify([{ Config: rel(config.digest), RepoTags: [ref], Layers: layers.map((l) => rel(l.digest)) }]));
  return manifest;
}

/** The layout directory as one tarball, written under a temp name and renamed. */
export async function packLayout(layout: string, out: string): Promise<void> {
  const tmp = `${out}.${process.pid}.tmp`;
  await rm(tmp, { force: true });
  await execa('tar', [...TAR_FLAGS, '-C', layout, '-cf', tmp, 'oci-layout', 'index.json', 'manifest.json', 'blobs']);
  await rename(tmp, out);
}
