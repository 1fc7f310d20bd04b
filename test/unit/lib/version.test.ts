// One version: package.json's, read through lib/version.ts by the code; the
// YAML and the Containerfile cannot import it, so they are held to it here.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { VERSION } from '../../../lib/version.ts';

const root = join(import.meta.dirname, '..', '..', '..');
const read = (p: string) => readFileSync(join(root, p), 'utf8');

describe('the version', () => {
  it("is package.json's", () => {
    expect(VERSION).toBe((JSON.parse(read('package.json')) as { version: string }).version);
  });
  it('tags the image the manifests name', () => {
    expect(read('daemonset/kustomization.yaml')).toContain(`newTag: ${VERSION}`);
    expect(read('daemonset/daemonset.yaml')).toContain(`image: localhost/hostplane:${VERSION}`);
    expect(read('daemonset/image/Containerfile')).toContain(`org.opencontainers.image.version=${VERSION}`);
  });
  it('no other literal version in product code', () => {
    for (const f of ['csi/identity.ts', 'csi/context.ts', 'daemonset/image/build.ts']) expect(read(f), f).not.toMatch(/['"]\d+\.\d+\.\d+['"]/);
  });
});
