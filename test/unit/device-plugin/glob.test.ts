import { describe, it, expect, afterEach } from 'vitest';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { matchSegment, matchPath, expandGlob, naturalCompare } from '../../../device-plugin/discovery/glob.ts';

describe('matchSegment', () => {
  it.each([
    ['nvidia[0-9]*', 'nvidia0', true],
    ['nvidia[0-9]*', 'nvidia12', true],
    ['nvidia[0-9]*', 'nvidiactl', false],
    ['nvidia[0-9]*', 'nvidia-uvm', false],
    ['ttyUSB*', 'ttyUSB0', true],
    ['ttyUSB*', 'ttyS0', false],
    ['tty?', 'tty1', true],
    ['tty?', 'tty10', false],
    ['*', '', true],
    ['a*b*c', 'aXXbYYc', true],
    ['a*b*c', 'aXXbYY', false],
    ['[!0-9]x', 'ax', true],
    ['[!0-9]x', '5x', false],
    ['[^a]', 'b', true],
    ['[]a]', ']', true],
    ['fuse', 'fuse', true],
    ['fuse', 'fuses', false],
    ['[abc', '[abc', true],
    ['a\\*', 'a*', true],
    ['a\\*', 'ab', false],
  ])('%s vs %s → %s', (p, s, want) => {
    expect(matchSegment(p, s)).toBe(want);
  });
});

describe('matchPath', () => {
  it('a wildcard never crosses a slash', () => {
    expect(matchPath('/dev/*', '/dev/net/tun')).toBe(false);
    expect(matchPath('/dev/*/tun', '/dev/net/tun')).toBe(true);
  });
});

describe('expandGlob', () => {
  let dir = '';
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('lists matches in natural order and the dirs that decide them', () => {
    dir = mkdtempSync(join(tmpdir(), 'hp-glob-'));
    for (const n of ['nvidia10', 'nvidia2', 'nvidia0', 'nvidiactl', '.nvidia9']) writeFileSync(join(dir, n), '');
    const r = expandGlob(`${dir}/nvidia[0-9]*`);
    expect(r.matches).toEqual([`${dir}/nvidia0`, `${dir}/nvidia2`, `${dir}/nvidia10`]);
    expect(r.dirs).toEqual([dir]);
  });

  it('a missing static part is watched through its deepest existing ancestor', () => {
    dir = mkdtempSync(join(tmpdir(), 'hp-glob-'));
    const r = expandGlob(`${dir}/net/tun`);
    expect(r.matches).toEqual([]);
    expect(r.dirs).toEqual([dir]);
    mkdirSync(join(dir, 'net'));
    writeFileSync(join(dir, 'net', 'tun'), '');
    const r2 = expandGlob(`${dir}/net/tun`);
    expect(r2.matches).toEqual([`${dir}/net/tun`]);
    expect(r2.dirs).toEqual([join(dir, 'net')]);
  });

  it('expands wildcards in middle segments', () => {
    dir = mkdtempSync(join(tmpdir(), 'hp-glob-'));
    for (const b of ['001', '002']) {
      mkdirSync(join(dir, b));
      writeFileSync(join(dir, b, '003'), '');
    }
    const r = expandGlob(`${dir}/*/00?`);
    expect(r.matches).toEqual([`${dir}/001/003`, `${dir}/002/003`]);
    expect(r.dirs).toEqual([dir, join(dir, '001'), join(dir, '002')]);
  });

  it('rejects a relative pattern', () => {
    expect(() => expandGlob('dev/fuse')).toThrow(/absolute/);
  });
});

describe('naturalCompare', () => {
  it('orders digit runs as numbers and the rest by code unit, without locale data', () => {
    const ids = ['dev10', 'dev2', 'dev', 'dev02', 'dev1b', 'dev1a', 'card0-dev3', 'card0-dev12', 'a', 'dev100'];
    expect([...ids].sort(naturalCompare)).toEqual(['a', 'card0-dev3', 'card0-dev12', 'dev', 'dev1a', 'dev1b', 'dev2', 'dev02', 'dev10', 'dev100']);
    expect(naturalCompare('x', 'x')).toBe(0);
  });
});
