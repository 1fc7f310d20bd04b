// The agent against a fake Kubernetes API: the conflist follows the Node's
// spec.podCIDRs, read over HTTPS with the service-account token and CA.
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { startFakeApiServer, type FakeApiServer } from './fake-apiserver.ts';
import { fakeComponents } from './fakes.ts';
import { validateConfig } from '../../../agent/config.ts';
import { startAgent, type RunningAgent } from '../../../agent/agent.ts';
import { AgentMetrics } from '../../../agent/metrics.ts';
import { silentLogger } from '../../../lib/logging.ts';

let dir: string;
let api: FakeApiServer | undefined;
let agent: RunningAgent | undefined;

beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'hp-agent-it-')); });
afterEach(async () => {
  await agent?.stop();
  await api?.close();
  agent = undefined;
  api = undefined;
  rmSync(dir, { recursive: true, force: true });
});

function config(extra: Record<string, unknown> = {}) {
  writeFileSync(join(dir, 'cni-src'), '#!/bin/sh\necho fake\n');
  return validateConfig({
    nodeName: 'node-a',
    http: { address: '127.0.0.1', port: 0 },
    cni: { binarySource: join(dir, 'cni-src'), binDir: join(dir, 'opt-cni-bin'), confDir: join(dir, 'net.d'), pollSeconds: 1 },
    kubernetes: api ? { apiServer: api.url, tokenFile: api.tokenFile, caFile: api.caFile } : {},
    csi: { enabled: false },
    devicePlugin: { enabled: false },
    ...extra,
  }, 'test', {}, dir);
}

const conflist = () => JSON.parse(readFileSync(join(dir, 'net.d', '10-hostplane.conflist'), 'utf8'));
const ranges = () => conflist().plugins[0].ipam.ranges;

async function until(cond: () => boolean, ms = 8000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('agent CNI install from the Node object', () => {
  it('writes the conflist with the Node\'s pod CIDRs (dual-stack) and installs the binary', async () => {
    api = await startFakeApiServer(dir, 'node-a', ['10.244.7.0/24', 'fd00:10:244:7::/64']);
    agent = await startAgent(config(), { log: silentLogger(), components: fakeComponents().components, metrics: new AgentMetrics({ defaultMetrics: false }) });
    expect(ranges()).toEqual([[{ subnet: '10.244.7.0/24' }], [{ subnet: 'fd00:10:244:7::/64' }]]);
    expect(statSync(join(dir, 'opt-cni-bin', 'hostplane')).mode & 0o111).toBeTruthy();
    expect(api.requests).toContain('GET /api/v1/nodes/node-a');
  });

  it('rewrites the conflist when the CIDRs change', async () => {
    api = await startFakeApiServer(dir, 'node-a', ['10.244.7.0/24']);
    agent = await startAgent(config(), { log: silentLogger(), components: fakeComponents().components, metrics: new AgentMetrics({ defaultMetrics: false }) });
    expect(ranges()).toEqual([[{ subnet: '10.244.7.0/24' }]]);
    api.node.spec.podCIDRs = ['10.244.9.0/24', 'fd00:9::/64'];
    await until(() => ranges().length === 2);
    expect(ranges()).toEqual([[{ subnet: '10.244.9.0/24' }], [{ subnet: 'fd00:9::/64' }]]);
    // The file is renamed into place before the install returns (directory
    // fsync) and counts it: wait for the counter rather than read it at once.
    const metric = () => agent!.metrics.registry.getSingleMetricAsString('hostplane_cni_installs_total');
    const end = Date.now() + 8000;
    while (!(await metric()).includes('{kind="conflist"} 2') && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    expect(await metric()).toContain('hostplane_cni_installs_total{kind="conflist"} 2');
  });

  it('waits without a conflist until the Node gets pod CIDRs', async () => {
    api = await startFakeApiServer(dir, 'node-a', []);
    agent = await startAgent(config(), { log: silentLogger(), components: fakeComponents().components, metrics: new AgentMetrics({ defaultMetrics: false }) });
    expect(existsSync(join(dir, 'net.d', '10-hostplane.conflist'))).toBe(false);
    const ready = await fetch(`http://127.0.0.1:${agent.port}/readyz`);
    expect(ready.status).toBe(503);
    api.node.spec.podCIDRs = ['10.244.3.0/24'];
    await until(() => existsSync(join(dir, 'net.d', '10-hostplane.conflist')));
    expect(ranges()).toEqual([[{ subnet: '10.244.3.0/24' }]]);
    expect((await fetch(`http://127.0.0.1:${agent.port}/readyz`)).status).toBe(200);
  });

  it('uses the pod CIDRs from the config without asking the API', async () => {
    agent = await startAgent(config({ cni: { binarySource: join(dir, 'cni-src'), binDir: join(dir, 'b'), confDir: join(dir, 'net.d'), podCIDRs: ['10.1.0.0/16'] } }),
      { log: silentLogger(), components: fakeComponents().components, metrics: new AgentMetrics({ defaultMetrics: false }) });
    expect(ranges()).toEqual([[{ subnet: '10.1.0.0/16' }]]);
  });

  it('leaves the binary and conflist in place on stop', async () => {
    api = await startFakeApiServer(dir, 'node-a', ['10.244.7.0/24']);
    agent = await startAgent(config(), { log: silentLogger(), components: fakeComponents().components, metrics: new AgentMetrics({ defaultMetrics: false }) });
    await agent.stop();
    agent = undefined;
    expect(existsSync(join(dir, 'net.d', '10-hostplane.conflist'))).toBe(true);
    expect(existsSync(join(dir, 'opt-cni-bin', 'hostplane'))).toBe(true);
  });
});
