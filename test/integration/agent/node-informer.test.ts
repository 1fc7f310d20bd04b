// The agent's Node watch against the fake API server over HTTPS: one LIST,
// then a WATCH with bookmarks; a dropped stream resumes from the last
// resourceVersion without a new LIST; a 410 Gone relists, and a relist fires
// nothing for Nodes that did not change.
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { startFakeApiServer, nodeObject, type FakeApiServer } from '../../support/fake-apiserver.ts';
import { NodeInformer } from '../../../agent/kube/node-informer.ts';
import { silentLogger } from '../../../lib/logging.ts';

let dir: string;
let api: FakeApiServer;
let inf: NodeInformer | undefined;
let events: string[];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hp-informer-'));
  api = await startFakeApiServer({ dir, bookmarkMs: 200 });
  api.upsert(nodeObject('a', ['10.244.1.0/24'], ['10.0.0.1']));
  events = [];
});
afterEach(async () => {
  await inf?.stop();
  inf = undefined;
  await api.close();
  rmSync(dir, { recursive: true, force: true });
});

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
const lists = () => api.requests.filter((r) => r === 'GET /api/v1/nodes').length;
const watches = () => api.requests.filter((r) => r.includes('watch=true')).length;

async function start(): Promise<NodeInformer> {
  inf = new NodeInformer({ kube: { apiServer: api.url, tokenFile: api.tokenFile, caFile: api.caFile }, log: silentLogger(), backoffMs: [50, 200] });
  inf.onChange((e, n) => events.push(`${e}:${n?.metadata?.name ?? ''}`));
  await inf.start();
  await until(() => inf!.synced() && api.openWatches() === 1);
  return inf;
}

describe('NodeInformer', () => {
  it('lists, then watches with bookmarks; the bookmark keeps the resourceVersion current', async () => {
    const i = await start();
    expect(events).toEqual(['add:a', 'synced:']);
    expect(i.get('a')?.spec?.podCIDRs).toEqual(['10.244.1.0/24']);
    const w = api.requests.find((r) => r.includes('watch=true'))!;
    expect(w).toContain('allowWatchBookmarks=true');
    expect(w).toMatch(/timeoutSeconds=\d+/);
    const rvBefore = i.latestResourceVersion();
    api.compact(); // advances the revision without an event for us: only a bookmark tells the client
    await until(() => i.latestResourceVersion() !== rvBefore, 3000);
  });

  it('delivers changes as they happen', async () => {
    const i = await start();
    api.upsert(nodeObject('b', ['10.244.2.0/24'], ['10.0.0.2']));
    api.upsert(nodeObject('a', ['10.244.9.0/24'], ['10.0.0.1']));
    api.remove('b');
    await until(() => events.length === 5);
    expect(events.slice(2)).toEqual(['add:b', 'update:a', 'delete:b']);
    expect(i.list().map((n) => n.metadata?.name)).toEqual(['a']);
  });

  it('resumes a dropped watch from its resourceVersion: no new LIST, no missed event', async () => {
    await start();
    api.dropWatches();
    api.upsert(nodeObject('c', ['10.244.3.0/24'], ['10.0.0.3'])); // while disconnected
    await until(() => events.includes('add:c'));
    expect(lists()).toBe(1);
    expect(watches()).toBeGreaterThanOrEqual(2);
  });

  it('relists after 410 Gone and fires nothing for Nodes that did not change', async () => {
    await start();
    api.compact();
    api.dropWatches();
    await until(() => lists() === 2 && api.openWatches() === 1);
    await new Promise((r) => setTimeout(r, 300));
    expect(events).toEqual(['add:a', 'synced:']);
  });

  it('a relist after 410 fires delete for a Node removed while the watch was gone', async () => {
    const i = await start();
    api.upsert(nodeObject('b', ['10.244.2.0/24'], ['10.0.0.2']));
    await until(() => events.includes('add:b'));
    api.dropWatches();
    api.remove('b');
    api.compact(); // the DELETED event is forgotten: only the relist can tell
    await until(() => events.includes('delete:b'));
    expect(lists()).toBe(2);
    expect(i.list().map((n) => n.metadata?.name)).toEqual(['a']);
  });

  it('a stream silent past the inactivity timeout is torn down and resumed without a LIST', async () => {
    await api.close();
    api = await startFakeApiServer({ dir, bookmarkMs: 60_000 }); // no bookmark in this test's lifetime
    api.upsert(nodeObject('a', ['10.244.1.0/24'], ['10.0.0.1']));
    inf = new NodeInformer({ kube: { apiServer: api.url, tokenFile: api.tokenFile, caFile: api.caFile }, log: silentLogger(), inactivityMs: 300 });
    await inf.start();
    await until(() => watches() >= 3);
    expect(lists()).toBe(1);
  });

  it('keeps only the fields the agent reads of a Node', async () => {
    api.upsert({
      ...nodeObject('d', ['10.244.4.0/24'], ['10.0.0.4']),
      status: { addresses: [{ type: 'InternalIP', address: '10.0.0.4' }], images: [{ names: ['x'.repeat(1000)] }] } as never,
    });
    const i = await start();
    expect(i.get('d')).toEqual({
      metadata: { name: 'd', resourceVersion: expect.any(String) },
      spec: { podCIDR: '10.244.4.0/24', podCIDRs: ['10.244.4.0/24'] },
      status: { addresses: [{ type: 'InternalIP', address: '10.0.0.4' }] },
    });
  });

  it('verifies TLS: an API server the CA file does not vouch for is refused', async () => {
    const other = mkdtempSync(join(tmpdir(), 'hp-informer-ca-'));
    try {
      const api2 = await startFakeApiServer({ dir: other });
      inf = new NodeInformer({ kube: { apiServer: api2.url, tokenFile: api.tokenFile, caFile: api.caFile }, log: silentLogger(), backoffMs: [50, 200] });
      await inf.start();
      await new Promise((r) => setTimeout(r, 500));
      expect(inf.synced()).toBe(false);
      expect(api2.requests).toEqual([]); // the TLS handshake failed: no request (and no token) reached it
      await inf.stop();
      await api2.close();
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it('keeps retrying while the API refuses it, and recovers', async () => {
    await api.close();
    api = await startFakeApiServer({ dir, token: 'other-token' }); // our token is now rejected
    api.upsert(nodeObject('a', ['10.244.1.0/24'], ['10.0.0.1']));
    inf = new NodeInformer({
      kube: { apiServer: api.url, tokenFile: join(dir, 'missing-token'), caFile: api.caFile },
      log: silentLogger(),
      backoffMs: [50, 200],
    });
    await inf.start();
    await until(() => api.requests.length >= 3);
    expect(inf.synced()).toBe(false);
    writeFileSync(join(dir, 'missing-token'), 'other-token\n'); // mounted late, with a trailing newline
    await until(() => inf!.synced() && api.openWatches() === 1);
    expect(inf.get('a')).toBeDefined();
  });
});
