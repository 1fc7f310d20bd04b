import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AtomicDir, writeFileAtomic, writeFileAtomicSync } from '../../../lib/atomic-file.ts';

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

describe("AtomicDir (a state store's directory)", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hp-atomic-dir-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes whole files with their mode, concurrently, leaving no temp file; remove is durable and idempotent', async () => {
    const d = new AtomicDir(dir);
    await Promise.all(Array.from({ length: 20 }, (_, i) => d.write(`r${i}.json`, String(i).repeat(1000), 0o600)));
    expect(readdirSync(dir).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `r${i}.json`).sort());
    expect(readFileSync(join(dir, 'r7.json'), 'utf8')).toBe('7'.repeat(1000));
    expect(statSync(join(dir, 'r7.json')).mode & 0o777).toBe(0o600);
    await d.remove('r7.json');
    await d.remove('r7.json');
    expect(readdirSync(dir)).not.toContain('r7.json');
  });

  it('group commit: syncs asked for while one runs share the next one, never the running one (it may predate their rename)', async () => {
    const d = new AtomicDir(dir);
    const first = d.syncDir();
    const second = d.syncDir();
    const third = d.syncDir();
    expect(second).not.toBe(first);
    expect(third).toBe(second);
    await Promise.all([first, second, third]);
    // Idle again: a new request starts a sync of its own.
    const fourth = d.syncDir();
    expect(fourth).not.toBe(second);
    await fourth;
  });

  it('a write into a directory that is gone fails (ENOENT), and a later one works', async () => {
    const d = new AtomicDir(join(dir, 'gone'));
    await expect(d.write('x.json', '{}')).rejects.toThrow(/ENOENT/);
    const ok = new AtomicDir(dir);
    await ok.write('x.json', 'old');
    expect(readdirSync(dir)).toEqual(['x.json']);
  });
});
