import { describe, it, expect } from 'vitest';
import { sizeFor, checkId, checkPath, checkName, parseCapability, unsupportedReason, MAX_VOLUME_BYTES } from '../../../csi/validate.ts';
import { checkParameters, checkMutableParameters, checkEphemeralAttributes, parseQuantity, isEphemeralRequest } from '../../../csi/parameters.ts';
import { page } from '../../../csi/controller/paging.ts';
import { GrpcError, status } from '../../../lib/grpc/status-error.ts';

const MiB = 1024 * 1024;
const codeOf = (f: () => unknown) => {
  try {
    f();
    return 'OK';
  } catch (e) {
    return e instanceof GrpcError ? status[e.code] : 'THROW';
  }
};

describe('sizeFor (capacity_range → image size)', () => {
  it.each([
    [{}, 1024 * MiB],
    [{ required_bytes: 1 }, MiB],
    [{ required_bytes: 64 * MiB }, 64 * MiB],
    [{ required_bytes: 64 * MiB + 1 }, 65 * MiB],
    [{ limit_bytes: 10 * MiB }, 10 * MiB],
    [{ required_bytes: 5 * MiB + 1, limit_bytes: 5 * MiB + 8192 }, 5 * MiB + 8192],
  ])('%j → %d bytes', (range, want) => expect(sizeFor(range)).toBe(want));

  it.each([
    [{ required_bytes: -1 }, 'INVALID_ARGUMENT'],
    [{ required_bytes: 2 * MiB, limit_bytes: MiB }, 'INVALID_ARGUMENT'],
    [{ required_bytes: MAX_VOLUME_BYTES + 1 }, 'OUT_OF_RANGE'],
    [{ limit_bytes: 100 }, 'OUT_OF_RANGE'],
  ])('%j → %s', (range, code) => expect(codeOf(() => sizeFor(range))).toBe(code));
});

describe('ids, names and paths', () => {
  it.each(['v-abc', 'fake-vol-id-1', 'A.b_c'])('accepts id %s', (id) => expect(checkId(id, 'volume_id')).toBe(id));
  it.each(['', '..', '../x', 'a/b', 'a..b', '-lead', 'x'.repeat(200)])('refuses id %j with INVALID_ARGUMENT', (id) =>
    expect(codeOf(() => checkId(id, 'volume_id'))).toBe('INVALID_ARGUMENT'),
  );
  it.each(['relative', '/a/../b', '/a/b\0c', ''])('refuses path %j', (p) => expect(codeOf(() => checkPath(p, 'target_path'))).toBe('INVALID_ARGUMENT'));
  it('normalises a good path', () => expect(checkPath('/var//lib/x/', 'p')).toBe('/var/lib/x'));
  it('names may hold any non-control Unicode', () => expect(checkName('pvc-ünïcödé ../x')).toBe('pvc-ünïcödé ../x'));
  it('the error names the missing field', () => expect(() => checkId(undefined, 'source_volume_id')).toThrow(/source_volume_id is required/));
});

describe('capabilities', () => {
  it('parses mount with fs type and flags', () => {
    expect(
      parseCapability({ access_type: 'mount', mount: { fs_type: 'xfs', mount_flags: ['noatime'] }, access_mode: { mode: 'SINGLE_NODE_WRITER' } }, 'c'),
    ).toMatchObject({ block: false, fsType: 'xfs', mountFlags: ['noatime'], readOnlyMode: false });
  });
  it.each(['SINGLE_NODE_WRITER', 'SINGLE_NODE_READER_ONLY', 'SINGLE_NODE_SINGLE_WRITER', 'SINGLE_NODE_MULTI_WRITER'] as const)('supports %s', (mode) => {
    expect(unsupportedReason(parseCapability({ access_type: 'block', block: {}, access_mode: { mode } }, 'c'))).toBeUndefined();
  });
  it.each(['MULTI_NODE_READER_ONLY', 'MULTI_NODE_SINGLE_WRITER', 'MULTI_NODE_MULTI_WRITER'] as const)('rejects %s', (mode) => {
    expect(unsupportedReason(parseCapability({ access_type: 'block', block: {}, access_mode: { mode } }, 'c'))).toMatch(/not supported/);
  });
  it('refuses a mount flag that could smuggle options', () => {
    expect(codeOf(() => parseCapability({ access_type: 'mount', mount: { mount_flags: ['ro x'] }, access_mode: { mode: 'SINGLE_NODE_WRITER' } }, 'c'))).toBe(
      'INVALID_ARGUMENT',
    );
  });
});

describe('parameters', () => {
  it('accepts fsType and provisioner metadata, refuses unknown keys by name', () => {
    expect(checkParameters({ fsType: 'xfs', 'csi.storage.k8s.io/pvc/name': 'x' })).toEqual({ fsType: 'xfs' });
    expect(() => checkParameters({ fstype: 'ext4' })).toThrow(/parameters.fstype/);
  });
  it('mutable parameters readAheadKB and directIO are validated', () => {
    expect(checkMutableParameters({ readAheadKB: '128', directIO: 'true' })).toEqual({ readAheadKB: '128', directIO: 'true' });
    expect(codeOf(() => checkMutableParameters({ readAheadKB: '999999' }))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => checkMutableParameters({ directIO: 'yes' }))).toBe('INVALID_ARGUMENT');
  });
});

describe('pagination', () => {
  const items = ['a', 'b', 'c', 'd', 'e'].map((id) => ({ id }));
  it('pages through everything exactly once', () => {
    const seen: string[] = [];
    let token = '';
    do {
      const p = page(items, 2, token);
      seen.push(...p.items.map((i) => i.id));
      token = p.next;
    } while (token);
    expect(seen).toEqual(['a', 'b', 'c', 'd', 'e']);
  });
  it('a token stays valid when the entries before it are deleted', () => {
    const first = page(items, 2, '');
    const p = page(
      items.filter((i) => i.id > 'b'),
      2,
      first.next,
    );
    expect(p.items.map((i) => i.id)).toEqual(['c', 'd']);
  });
  it.each(['invalid-token', 'after:', 'after:../../x', '2'])('token %j → ABORTED', (t) => expect(codeOf(() => page(items, 0, t))).toBe('ABORTED'));
  it('no max_entries returns all, with no next token', () => expect(page(items, 0, '')).toEqual({ items, next: '' }));
});

describe('inline ephemeral volume attributes', () => {
  it.each([
    ['1073741824', 1073741824],
    ['64Mi', 64 * MiB],
    ['1Gi', 1024 * MiB],
    ['500M', 500e6],
    ['1.5Gi', 1.5 * 1024 * MiB],
    ['2k', 2000],
  ])('size %j → %d bytes', (q, n) => expect(parseQuantity(q, 'size')).toBe(n));
  it.each(['', 'lots', '-1Gi', '1GB', '1e9', '0', '1 Gi'])('size %j → INVALID_ARGUMENT', (q) =>
    expect(codeOf(() => parseQuantity(q, 'size'))).toBe('INVALID_ARGUMENT'),
  );
  it('size and fsType are read, kubelet keys pass, anything else is refused by name', () => {
    expect(checkEphemeralAttributes({ size: '16Mi', fsType: 'xfs', 'csi.storage.k8s.io/pod.name': 'p' })).toEqual({ sizeBytes: 16 * MiB, fsType: 'xfs' });
    expect(checkEphemeralAttributes(undefined)).toEqual({});
    expect(() => checkEphemeralAttributes({ sise: '1Gi' })).toThrow(/volume_context.sise/);
    expect(codeOf(() => checkEphemeralAttributes({ fsType: 'vfat' }))).toBe('INVALID_ARGUMENT');
  });
  it('only "true" under csi.storage.k8s.io/ephemeral makes a request ephemeral', () => {
    expect(isEphemeralRequest({ 'csi.storage.k8s.io/ephemeral': 'true' })).toBe(true);
    expect(isEphemeralRequest({ 'csi.storage.k8s.io/ephemeral': 'false' })).toBe(false);
    expect(isEphemeralRequest({})).toBe(false);
    expect(isEphemeralRequest(undefined)).toBe(false);
  });
});
