// kubelet recreating plugins_registry: the directory deleted and made again
// (not just the socket files). The CSI driver's and the device plugin's
// Registration sockets must come back on their own, or kubelet never learns
// of the plugins again. The agent with its real components.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { validateConfig } from '../../../agent/config.ts';
import { startAgent, type RunningAgent } from '../../../agent/agent.ts';
import { AgentMetrics } from '../../../agent/metrics.ts';
import { realComponents } from '../../../agent/real-components.ts';
import { probeUnary } from '../../../agent/health/grpc-probe.ts';
import { socketName } from '../../../device-plugin/resource-runner.ts';
import { KEEPER_INTERVAL_MS } from '../../../lib/grpc/socket-keeper.ts';
import { silentLogger } from '../../../lib/logging.ts';
import { agentTestConfig } from '../../support/agent-config.ts';

const RES = 'hostplane.dev/rnull';
let dir: string;
let agent: RunningAgent | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hp-agent-reg-'));
  writeFileSync(join(dir, 'cni-src'), '#!/bin/sh\nexit 0\n');
  const cfg = validateConfig(agentTestConfig(dir, { nodeName: 'reg-node', cni: false, resource: RES, rescanIntervalSeconds: 0 }), 'test', {}, dir);
  agent = await startAgent(cfg, { log: silentLogger(), components: realComponents, metrics: new AgentMetrics({ defaultMetrics: false }) });
});
afterAll(async () => {
  await agent?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const sockets = () => ({
  csi: join(dir, 'registry', 'csi.hostplane.io-reg.sock'),
  device: join(dir, 'registry', socketName(RES).replace(/\.sock$/, '-reg.sock')),
});
const getInfo = async (socket: string) =>
  (await probeUnary(socket, 'pluginregistration/v1/api.proto', 'pluginregistration.Registration', 'GetInfo', 2000)) as { type: string; name: string };

async function bothAnswer(ms: number): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    try {
      const [c, d] = await Promise.all([getInfo(sockets().csi), getInfo(sockets().device)]);
      expect(c).toMatchObject({ type: 'CSIPlugin', name: 'csi.hostplane.io' });
      expect(d).toMatchObject({ type: 'DevicePlugin', name: RES });
      return Date.now() - t0;
    } catch (e) {
      if (Date.now() - t0 > ms) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

describe('kubelet recreates plugins_registry', () => {
  it('the CSI and device plugin Registration sockets come back within the keeper interval, every time', async () => {
    await bothAnswer(2000);
    for (let i = 0; i < 3; i++) {
      rmSync(join(dir, 'registry'), { recursive: true, force: true });
      mkdirSync(join(dir, 'registry'));
      const took = await bothAnswer(KEEPER_INTERVAL_MS * 3 + 2000);
      expect(took).toBeLessThan(KEEPER_INTERVAL_MS * 3 + 2000);
    }
  });
});
