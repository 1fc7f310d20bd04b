// Liveness and readiness that mean something: the agent with its real CSI
// driver, device plugin and CNI installation; then each component killed or
// wedged in-process. /healthz must fail (kubelet restarts the pod) and
// /readyz must name the component, within a few check intervals.
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { validateConfig } from '../../../agent/config.ts';
import { startAgent, type RunningAgent } from '../../../agent/agent.ts';
import { AgentMetrics } from '../../../agent/metrics.ts';
import { realComponents } from '../../../agent/real-components.ts';
import { socketName } from '../../../device-plugin/resource-runner.ts';
import { silentLogger } from '../../../lib/logging.ts';
import { agentTestConfig } from '../../support/agent-config.ts';

const RES = 'hostplane.dev/hnull';
let dir: string;
let agent: RunningAgent | undefined;
const wedges: Server[] = [];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hp-agent-health-'));
  writeFileSync(join(dir, 'cni-src'), '#!/bin/sh\nexit 0\n');
  const cfg = validateConfig(
    agentTestConfig(dir, {
      nodeName: 'health-node',
      cni: { podCIDRs: ['10.79.0.0/24'], binarySource: join(dir, 'cni-src') },
      resource: RES,
      rescanIntervalSeconds: 0,
    }),
    'test',
    {},
    dir,
  );
  agent = await startAgent(cfg, {
    log: silentLogger(),
    components: realComponents,
    metrics: new AgentMetrics({ defaultMetrics: false }),
    health: { intervalMs: 100, deadlineMs: 500 },
  });
});
afterEach(async () => {
  for (const w of wedges.splice(0)) w.close();
  await agent?.stop();
  agent = undefined;
  rmSync(dir, { recursive: true, force: true });
});

const get = async (path: string) => {
  const r = await fetch(`http://127.0.0.1:${agent!.port}${path}`);
  return { status: r.status, body: await r.text() };
};

async function until(cond: () => Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`${what}: not in ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Put a listener on the socket path that accepts and never answers: a wedged server. */
async function wedge(path: string): Promise<void> {
  rmSync(path, { force: true });
  const s = createServer(() => {
    /* accept, then say nothing */
  });
  wedges.push(s);
  await new Promise<void>((resolve) => s.listen(path, resolve));
}

async function expectDown(name: string, component: RegExp, reason: RegExp): Promise<void> {
  await until(async () => (await get('/healthz')).status === 503, '/healthz failing');
  const h = await get('/healthz');
  expect(h.body).toMatch(component);
  expect(h.body).toMatch(reason);
  const m = await get('/metrics');
  expect(m.body).toContain(`hostplane_component_healthy{component="${name}"} 0`);
  const r = await get('/readyz');
  expect(r.status).toBe(503);
  expect(r.body).toMatch(new RegExp(`^not ready: (.*, )?${name} \\(`));
}

describe('agent liveness and readiness', () => {
  it('all components answering: /healthz and /readyz are 200', async () => {
    expect(await get('/healthz')).toEqual({ status: 200, body: 'ok\n' });
    expect(await get('/readyz')).toEqual({ status: 200, body: 'ok\n' });
    const m = (await get('/metrics')).body;
    for (const c of ['csi', 'csi-registration', 'device-plugin', 'cni']) expect(m).toContain(`hostplane_component_healthy{component="${c}"} 1`);
  });

  it('the CSI socket wedged (accepts, never answers): /healthz fails on the Probe deadline, /readyz names csi', async () => {
    await wedge(join(dir, 'csi', 'csi.sock'));
    await expectDown('csi', /unhealthy: csi \(/, /Probe: .*(deadline|Deadline)/);
  });

  it('the CSI driver gone (its socket removed): /healthz fails naming csi', async () => {
    rmSync(join(dir, 'csi', 'csi.sock'));
    await expectDown('csi', /csi \(Probe: /, /Probe/);
  });

  it('the kubelet registration socket wedged: /healthz fails naming csi-registration', async () => {
    await wedge(join(dir, 'registry', 'csi.hostplane.io-reg.sock'));
    await expectDown('csi-registration', /csi-registration \(GetInfo: /, /GetInfo/);
    expect((await get('/readyz')).body).not.toMatch(/not ready: .*\bcsi,/);
  });

  it('a device plugin socket wedged: /healthz fails naming device-plugin and the resource', async () => {
    await wedge(join(dir, 'device-plugins', socketName(RES)));
    await expectDown('device-plugin', /device-plugin \(hostplane\.dev\/hnull: GetDevicePluginOptions: /, /deadline|Deadline/);
  });

  it('the CNI plugin binary removed from the bin dir: /healthz fails naming cni', async () => {
    rmSync(join(dir, 'cni-bin', 'hostplane'));
    await expectDown('cni', /cni \(.*cni-bin\/hostplane is missing/, /missing/);
  });

  it('the conflist removed: /healthz fails naming cni', async () => {
    rmSync(join(dir, 'net.d', '10-hostplane.conflist'));
    await expectDown('cni', /cni \(.*10-hostplane\.conflist is missing/, /missing/);
  });
});
