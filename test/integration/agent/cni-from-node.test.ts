// The agent against a fake Kubernetes API: the conflist follows the Node's
// spec.podCIDRs, from the agent's Node watch (list+watch over HTTPS with the
// service-account token and CA).
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { startFakeApiServer, nodeObject, type FakeApiServer } from '../../support/fake-apiserver.ts';
import { fakeComponents } from './fakes.ts';
import { validateConfig } from '../../../agent/config.ts';
import { startAgent, type RunningAgent } from '../../../agent/agent.ts';
import { AgentMetrics } from '../../../agent/metrics.ts';
import { silentLogger } from '../../../lib/logging.ts';
import { FakeDataplane } from '../../support/fake-dataplane.ts';

let dir: string;
let api: FakeApiServer | undefined;
let agent: RunningAgent | undefined;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hp-agent-it-'));
});

async function apiWith(podCIDRs: string[]): Promise<FakeApiServer> {
  const a = await startFakeApiServer({ dir });
  a.upsert(nodeObject('node-a', podCIDRs, ['192.0.2.10']));
  return a;
}
const setCidrs = (podCIDRs: string[]) => api!.upsert(nodeObject('node-a', podCIDRs, ['192.0.2.10']));
afterEach(async () => {
  await agent?.stop();
  await api?.close();
  agent = undefined;
  api = undefined;
  rmSync(dir, { recursive: true, force: true });
});

function config(extra: Record<string, unknown> = {}) {
  writeFileSync(join(dir, 'cni-src'), '#!/bin/sh\necho fake\n');
  return validateConfig(
    {
      nodeName: 'node-a',
      http: { address: '127.0.0.1', port: 0 },
      cni: {
        binarySource: join(dir, 'cni-src'),
        binDir: join(dir, 'opt-cni-bin'),
        confDir: join(dir, 'net.d'),
        ipamDataDir: join(dir, 'ipam'),
        pollSeconds: 60,
        server: { socket: join(dir, 'run', 'cni.sock') },
      },
      kubernetes: api ? { apiServer: api.url, tokenFile: api.tokenFile, caFile: api.caFile } : {},
      csi: { enabled: false },
      devicePlugin: { enabled: false },
      ...extra,
    },
    'test',
    {},
    dir,
  );
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
  it("writes the conflist with the Node's pod CIDRs (dual-stack) and installs the binary", async () => {
    api = await apiWith(['10.244.7.0/24', 'fd00:10:244:7::/64']);
    agent = await startAgent(config(), { log: silentLogger(), components: fakeComponents().components, metrics: new AgentMetrics({ defaultMetrics: false }) });
    await until(() => existsSync(join(dir, 'net.d', '10-hostplane.conflist')));
    expect(ranges()).toEqual([[{ subnet: '10.244.7.0/24' }], [{ subnet: 'fd00:10:244:7::/64' }]]);
    expect(statSync(join(dir, 'opt-cni-bin', 'hostplane')).mode & 0o111).toBeTruthy();
    expect(api.requests).toContain('GET /api/v1/nodes');
    expect(api.requests.some((r) => r.startsWith('GET /api/v1/nodes?') && r.includes('watch=true') && r.includes('allowWatchBookmarks=true'))).toBe(true);
  });

  it('rewrites the conflist as soon as the watch delivers new CIDRs (no polling)', async () => {
    api = await apiWith(['10.244.7.0/24']);
    agent = await startAgent(config(), { log: silentLogger(), components: fakeComponents().components, metrics: new AgentMetrics({ defaultMetrics: false }) });
    await until(() => existsSync(join(dir, 'net.d', '10-hostplane.conflist')));
    expect(ranges()).toEqual([[{ subnet: '10.244.7.0/24' }]]);
    setCidrs(['10.244.9.0/24', 'fd00:9::/64']);
    // pollSeconds is 60: only the watch can make this happen in time.
    await until(() => ranges().length === 2, 3000);
    expect(ranges()).toEqual([[{ subnet: '10.244.9.0/24' }], [{ subnet: 'fd00:9::/64' }]]);
    // The file is in place before the install is counted (the conflist's dir is fsynced after the rename).
    let text = '';
    const end = Date.now() + 5000;
    while (!text.includes('hostplane_cni_installs_total{kind="conflist"} 2') && Date.now() < end) {
      text = await agent.metrics.registry.getSingleMetricAsString('hostplane_cni_installs_total');
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(text).toContain('hostplane_cni_installs_total{kind="conflist"} 2');
  });

  it('waits without a conflist until the Node gets pod CIDRs', async () => {
    api = await apiWith([]);
    agent = await startAgent(config(), { log: silentLogger(), components: fakeComponents().components, metrics: new AgentMetrics({ defaultMetrics: false }) });
    await until(() => api!.openWatches() > 0);
    expect(existsSync(join(dir, 'net.d', '10-hostplane.conflist'))).toBe(false);
    const ready = await fetch(`http://127.0.0.1:${agent.port}/readyz`);
    expect(ready.status).toBe(503);
    setCidrs(['10.244.3.0/24']);
    await until(() => existsSync(join(dir, 'net.d', '10-hostplane.conflist')));
    expect(ranges()).toEqual([[{ subnet: '10.244.3.0/24' }]]);
    expect((await fetch(`http://127.0.0.1:${agent.port}/readyz`)).status).toBe(200);
  });

  it('uses the pod CIDRs from the config without asking the API', async () => {
    agent = await startAgent(
      config({
        cni: {
          binarySource: join(dir, 'cni-src'),
          binDir: join(dir, 'b'),
          confDir: join(dir, 'net.d'),
          ipamDataDir: join(dir, 'ipam'),
          podCIDRs: ['10.1.0.0/16'],
          server: { socket: join(dir, 'run', 'cni.sock') },
        },
      }),
      { log: silentLogger(), components: fakeComponents().components, metrics: new AgentMetrics({ defaultMetrics: false }) },
    );
    expect(ranges()).toEqual([[{ subnet: '10.1.0.0/16' }]]);
  });

  it('leaves the binary and conflist in place on stop', async () => {
    api = await apiWith(['10.244.7.0/24']);
    agent = await startAgent(config(), { log: silentLogger(), components: fakeComponents().components, metrics: new AgentMetrics({ defaultMetrics: false }) });
    await until(() => existsSync(join(dir, 'net.d', '10-hostplane.conflist')));
    await agent.stop();
    agent = undefined;
    expect(existsSync(join(dir, 'net.d', '10-hostplane.conflist'))).toBe(true);
    expect(existsSync(join(dir, 'opt-cni-bin', 'hostplane'))).toBe(true);
  });

  it('with routing on: the conflist leaves masquerade to routing, and /debug/peers shows the peers from the same watch', async () => {
    api = await apiWith(['10.244.7.0/24']);
    api.upsert(nodeObject('node-b', ['10.244.8.0/24'], ['192.0.2.11']));
    const dataplane = new FakeDataplane([{ dev: 'eth0', address: '192.0.2.10', prefixLen: 24, mtu: 1500 }]);
    agent = await startAgent(config({ routing: 'auto' }), {
      log: silentLogger(),
      components: fakeComponents().components,
      metrics: new AgentMetrics({ defaultMetrics: false }),
      dataplane,
    });
    await until(() => existsSync(join(dir, 'net.d', '10-hostplane.conflist')) && dataplane.state.routes.length === 1);
    expect(conflist().plugins[0].ipMasq).toBe(false);
    expect(dataplane.state.routes).toEqual([{ family: 4, dst: '10.244.8.0/24', via: '192.0.2.11' }]);
    const peers = (await (await fetch(`http://127.0.0.1:${agent.port}/debug/peers`)).json()) as { peers: { node: string; backend: string }[] };
    expect(peers.peers).toEqual([{ node: 'node-b', family: 4, podCIDR: '10.244.8.0/24', address: '192.0.2.11', backend: 'host-gw' }]);
    expect(dataplane.nftScripts.at(-1)).toContain('masquerade');
  });

  it('starts without waiting for an API server that never answers (the rest of the agent must not hang on it)', async () => {
    const { createServer } = await import('node:net');
    const silent = createServer(() => {}); // accepts, never speaks TLS
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    try {
      writeFileSync(join(dir, 'token'), 'x');
      writeFileSync(join(dir, 'ca.crt'), '');
      const port = (silent.address() as { port: number }).port;
      const t0 = Date.now();
      agent = await startAgent(config({ kubernetes: { apiServer: `https://127.0.0.1:${port}`, tokenFile: join(dir, 'token'), caFile: join(dir, 'ca.crt') } }), {
        log: silentLogger(),
        components: fakeComponents().components,
        metrics: new AgentMetrics({ defaultMetrics: false }),
      });
      expect(Date.now() - t0).toBeLessThan(3000);
      expect((await fetch(`http://127.0.0.1:${agent.port}/readyz`)).status).toBe(503);
    } finally {
      await agent?.stop();
      agent = undefined;
      silent.close();
    }
  });
});
