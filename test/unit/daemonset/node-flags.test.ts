// The runtime flags are written once (daemonset/image/node-flags.ts); the
// Containerfile cannot import them, so it is held to them here.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NODE_FLAGS } from '../../../daemonset/image/node-flags.ts';
import { IMAGE_ENTRYPOINT } from '../../../daemonset/image/build.ts';

const root = join(import.meta.dirname, '..', '..', '..');

describe('node runtime flags', () => {
  it('the image entrypoint runs the bundle with them', () => {
    expect(IMAGE_ENTRYPOINT).toEqual(['/opt/hostplane/node', ...NODE_FLAGS, '/opt/hostplane/hostplane.mjs']);
  });
  it('the Containerfile has the same entrypoint', () => {
    const line = readFileSync(join(root, 'daemonset', 'image', 'Containerfile'), 'utf8')
      .split('\n')
      .find((l) => l.startsWith('ENTRYPOINT '));
    expect(JSON.parse(line!.slice('ENTRYPOINT '.length))).toEqual(IMAGE_ENTRYPOINT);
  });
  it('caps the heap as a guard well below the container limit, and keeps the young generation small', () => {
    const old = Number(NODE_FLAGS.find((f) => f.startsWith('--max-old-space-size='))?.split('=')[1]);
    expect(old).toBeGreaterThanOrEqual(128);
    const daemonset = readFileSync(join(root, 'daemonset', 'daemonset.yaml'), 'utf8');
    const limitMi = Number(/limits: \{ memory: (\d+)Mi \}/.exec(daemonset)?.[1]);
    expect(old).toBeLessThan(limitMi);
    expect(NODE_FLAGS).toContain('--max-semi-space-size=1');
  });
});
