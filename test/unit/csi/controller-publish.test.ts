// ControllerPublishVolume / ControllerUnpublishVolume against the fakes: the
// attachment is a durable record on this node only, idempotent both ways.
import { describe, it, expect, afterEach } from 'vitest';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fakeContext } from '../../support/csi-fakes.ts';
import { createVolume } from '../../../csi/controller/create-volume.ts';
import { deleteVolume } from '../../../csi/controller/delete-volume.ts';
import { controllerPublishVolume, controllerUnpublishVolume } from '../../../csi/controller/publish.ts';
import { controllerGetVolume, listVolumes } from '../../../csi/controller/list.ts';
import { controllerGetCapabilities } from '../../../csi/controller/capabilities.ts';
import { GrpcError, status } from '../../../lib/grpc/status-error.ts';

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

const cap = (mode = 'SINGLE_NODE_WRITER', block = false) =>
  block
    ? { access_type: 'block' as const, block: {}, access_mode: { mode: mode as 'SINGLE_NODE_WRITER' } }
    : { access_type: 'mount' as const, mount: { fs_type: 'ext4' }, access_mode: { mode: mode as 'SINGLE_NODE_WRITER' } };

async function setup() {
  const d = mkdtempSync('/tmp/hp-csi-unit-');
  dir = d;
  for (const sub of ['images', 'snapshots']) mkdirSync(join(d, sub));
  const f = fakeContext(d);
  const { volume } = await createVolume(f.ctx, { name: 'v', volume_capabilities: [cap()], capacity_range: { required_bytes: 1 << 20 } });
  return { ...f, id: volume.volume_id };
}

async function codeOf(p: Promise<unknown>): Promise<status | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    if (e instanceof GrpcError) return e.code;
    throw e;
  }
}

describe('ControllerGetCapabilities', () => {
  it('advertises PUBLISH_UNPUBLISH_VOLUME, PUBLISH_READONLY and LIST_VOLUMES_PUBLISHED_NODES', () => {
    const types = controllerGetCapabilities().capabilities.map((c) => c.rpc.type);
    expect(types).toEqual(expect.arrayContaining(['PUBLISH_UNPUBLISH_VOLUME', 'PUBLISH_READONLY', 'LIST_VOLUMES_PUBLISHED_NODES']));
  });
});

describe('ControllerPublishVolume', () => {
  it('records the attachment durably and returns an empty publish_context', async () => {
    const f = await setup();
    expect(await controllerPublishVolume(f.ctx, { volume_id: f.id, node_id: 'n1', volume_capability: cap(), readonly: true })).toEqual({ publish_context: {} });
    expect(f.store.volume(f.id)?.attached).toEqual({ n1: { readonly: true, block: false, mode: 'SINGLE_NODE_WRITER' } });
  });

  it('is idempotent for the same capability and readonly flag', async () => {
    const f = await setup();
    await controllerPublishVolume(f.ctx, { volume_id: f.id, node_id: 'n1', volume_capability: cap() });
    expect(await controllerPublishVolume(f.ctx, { volume_id: f.id, node_id: 'n1', volume_capability: cap() })).toEqual({ publish_context: {} });
  });

  it('refuses a repeat with another readonly flag, access type or mode with ALREADY_EXISTS, keeping the first record', async () => {
    const f = await setup();
    await controllerPublishVolume(f.ctx, { volume_id: f.id, node_id: 'n1', volume_capability: cap() });
    expect(await codeOf(controllerPublishVolume(f.ctx, { volume_id: f.id, node_id: 'n1', volume_capability: cap(), readonly: true }))).toBe(
      status.ALREADY_EXISTS,
    );
    expect(await codeOf(controllerPublishVolume(f.ctx, { volume_id: f.id, node_id: 'n1', volume_capability: cap('SINGLE_NODE_WRITER', true) }))).toBe(
      status.ALREADY_EXISTS,
    );
    expect(await codeOf(controllerPublishVolume(f.ctx, { volume_id: f.id, node_id: 'n1', volume_capability: cap('SINGLE_NODE_READER_ONLY') }))).toBe(
      status.ALREADY_EXISTS,
    );
    expect(f.store.volume(f.id)?.attached).toEqual({ n1: { readonly: false, block: false, mode: 'SINGLE_NODE_WRITER' } });
  });

  it.each<[string, { volume_id?: string; node_id?: string; volume_capability?: ReturnType<typeof cap> }, status]>([
    ['no volume_id', { node_id: 'n1', volume_capability: cap() }, status.INVALID_ARGUMENT],
    ['no node_id', { volume_id: 'ID', volume_capability: cap() }, status.INVALID_ARGUMENT],
    ['no volume_capability', { volume_id: 'ID', node_id: 'n1' }, status.INVALID_ARGUMENT],
    ['an unknown volume', { volume_id: 'v-nope', node_id: 'n1', volume_capability: cap() }, status.NOT_FOUND],
    ['another node', { volume_id: 'ID', node_id: 'n2', volume_capability: cap() }, status.NOT_FOUND],
    ['a multi-node mode', { volume_id: 'ID', node_id: 'n1', volume_capability: cap('MULTI_NODE_MULTI_WRITER') }, status.FAILED_PRECONDITION],
  ])('refuses %s and records nothing', async (_what, req, code) => {
    const f = await setup();
    const r = { ...req, ...(req.volume_id === 'ID' ? { volume_id: f.id } : {}) };
    expect(await codeOf(controllerPublishVolume(f.ctx, r))).toBe(code);
    expect(f.store.volume(f.id)?.attached).toBeUndefined();
  });
});

describe('ControllerUnpublishVolume', () => {
  it('removes the record; a repeat, an unknown volume and a never-published one all succeed', async () => {
    const f = await setup();
    await controllerPublishVolume(f.ctx, { volume_id: f.id, node_id: 'n1', volume_capability: cap() });
    expect(await controllerUnpublishVolume(f.ctx, { volume_id: f.id, node_id: 'n1' })).toEqual({});
    expect(f.store.volume(f.id)?.attached).toBeUndefined();
    expect(await controllerUnpublishVolume(f.ctx, { volume_id: f.id, node_id: 'n1' })).toEqual({});
    expect(await controllerUnpublishVolume(f.ctx, { volume_id: 'v-nope', node_id: 'n1' })).toEqual({});
  });

  it('without node_id unpublishes from every node', async () => {
    const f = await setup();
    await controllerPublishVolume(f.ctx, { volume_id: f.id, node_id: 'n1', volume_capability: cap() });
    await controllerUnpublishVolume(f.ctx, { volume_id: f.id });
    expect(f.store.volume(f.id)?.attached).toBeUndefined();
  });

  it('for another node leaves this node’s record alone', async () => {
    const f = await setup();
    await controllerPublishVolume(f.ctx, { volume_id: f.id, node_id: 'n1', volume_capability: cap() });
    await controllerUnpublishVolume(f.ctx, { volume_id: f.id, node_id: 'n2' });
    expect(Object.keys(f.store.volume(f.id)?.attached ?? {})).toEqual(['n1']);
  });

  it('refuses a missing volume_id with INVALID_ARGUMENT', async () => {
    const f = await setup();
    expect(await codeOf(controllerUnpublishVolume(f.ctx, { node_id: 'n1' }))).toBe(status.INVALID_ARGUMENT);
  });
});

describe('published state in ListVolumes, ControllerGetVolume and DeleteVolume', () => {
  it('reports this node as published while attached, and DeleteVolume waits for the unpublish', async () => {
    const f = await setup();
    await controllerPublishVolume(f.ctx, { volume_id: f.id, node_id: 'n1', volume_capability: cap() });
    expect((await controllerGetVolume(f.ctx, { volume_id: f.id })).status.published_node_ids).toEqual(['n1']);
    expect((await listVolumes(f.ctx, {})).entries[0]?.status.published_node_ids).toEqual(['n1']);
    expect(await codeOf(deleteVolume(f.ctx, { volume_id: f.id }))).toBe(status.FAILED_PRECONDITION);
    await controllerUnpublishVolume(f.ctx, { volume_id: f.id, node_id: 'n1' });
    expect((await controllerGetVolume(f.ctx, { volume_id: f.id })).status.published_node_ids).toEqual([]);
    await deleteVolume(f.ctx, { volume_id: f.id });
    expect(f.store.volume(f.id)).toBeUndefined();
  });
});
