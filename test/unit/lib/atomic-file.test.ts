import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic, writeFileAtomicSync } from '../../../lib/atomic-file.ts';

describe('atomic file writes', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hp-atomic-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('replaces the whole content and leaves no temp file behind', async () => {
    const p = join(dir, 'state.json');
    await writeFileAtomic(p, 'one');
    await writeFileAtomic(p, 'two');
    expect(readFileSync(p, 'utf8')).toBe('two');
    expect(readdirSync(dir)).toEqual(['state.json']);
  });

  it('creates missing parent directories and applies the mode', async () => {
    const p = join(dir, 'a', 'b', 'c.json');
    await writeFileAtomic(p, '{}', 0o600);
    expect(statSync(p).mode & 0o777).toBe(0o600);
  });

  it('sync variant behaves the same', () => {
    const p = join(dir, 'x');
    writeFileAtomicSync(p, 'a');
    writeFileAtomicSync(p, new Uint8Array([98]));
    expect(readFileSync(p, 'utf8')).toBe('b');
    expect(readdirSync(dir)).toEqual(['x']);
  });

  it('concurrent writers never produce a torn file', async () => {
    const p = join(dir, 'race');
    const bodies = Array.from({ length: 20 }, (_, i) => String(i).repeat(10_000));
    await Promise.all(bodies.map((b) => writeFileAtomic(p, b)));
    expect(bodies).toContain(readFileSync(p, 'utf8'));
    expect(readdirSync(dir)).toEqual(['race']);
  });
});
