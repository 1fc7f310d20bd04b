// Health, metrics and shutdown of the agent with fake CSI/device components.
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { fakeComponents } from './fakes.ts';
import { validateConfig } from '../../../agent/config.ts';
import { startAgent, type RunningAgent } from '../../../agent/agent.ts';
import { AgentMetrics } from '../../../agent/metrics.ts';
import { silentLogger } from '../../../lib/logging.ts';

let dir: string;
let agent: RunningAgent | undefined;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hp-agent-lc-'));
});
afterEach(async () => {
  await agent?.stop();
  agent = undefined;
  rmSync(dir, { recursive: true, force: true });
});

function config() {
  writeFileSync(join(dir, 'cni-src'), 'bin');
  return validateConfig(
    {
      nodeName: 'node-a',
      http: { address: '127.0.0.1', port: 0 },
      cni: {
        binarySource: join(dir, 'cni-src'),
        binDir: join(dir, 'bin'),
        confDir: join(dir, 'net.d'),
        ipamDataDir: join(dir, 'ipam'),
        podCIDRs: ['10.9.0.0/24'],
        server: { socket: join(dir, 'run', 'cni.sock') },
      },
      csi: { endpoint: `unix://${dir}/csi.sock`, dataDir: join(dir, 'csi'), pluginsRegistry: join(dir, 'registry'), maxVolumes: 10 },
      devicePlugin: { config: { resources: [] }, kubeletDir: join(dir, 'kubelet') },
    },
    'test',
    {},
    dir,
  );
}

describe('agent lifecycle', () => {
  it('passes the config to the CSI driver and device plugins', async () => {
    const fake = fakeComponents();
    agent = await startAgent(config(), { log: silentLogger(), components: fake.components });
    expect(fake.seen.csi).toMatchObject({ endpoint: `unix://${dir}/csi.sock`, nodeId: 'node-a', dataDir: join(dir, 'csi'), maxVolumes: 10 });
    expect(fake.seen.devices).toMatchObject({ config: { resources: [] }, kubeletDir: join(dir, 'kubelet'), cdiDir: '/var/run/cdi' });
  });

  it('/healthz and /readyz answer 200 once started; unknown paths 404', async () => {
    agent = await startAgent(config(), { log: silentLogger(), components: fakeComponents().components });
    const base = `http://127.0.0.1:${agent.port}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${base}/readyz`)).text()).toBe('ok\n');
    expect((await fetch(`${base}/nope`)).status).toBe(404);
  });

  it('/metrics has gRPC durations by method and code, CNI installs, devices by resource and health, volumes and bytes', async () => {
    agent = await startAgent(config(), { log: silentLogger(), components: fakeComponents().components, metrics: new AgentMetrics() });
    const res = await fetch(`http://127.0.0.1:${agent.port}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/text\/plain/);
    const text = await res.text();
    expect(text).toContain('hostplane_grpc_call_duration_seconds_count{component="csi",method="/csi.v1.Identity/Probe",code="OK"} 1');
    expect(text).toContain('hostplane_cni_installs_total{kind="binary"} 1');
    expect(text).toContain('hostplane_cni_installs_total{kind="conflist"} 1');
    expect(text).toContain('hostplane_devices{resource="hostplane.dev/fuse",health="Healthy"} 2');
    expect(text).toContain('hostplane_devices{resource="hostplane.dev/tun",health="Unhealthy"} 1');
    expect(text).toContain('hostplane_csi_volumes 3');
    expect(text).toContain('hostplane_csi_volume_bytes 3145728');
    expect(text).toContain('hostplane_agent_process_cpu_seconds_total');
  });

  it('stop drains the device plugins before closing them and the CSI driver', async () => {
    const fake = fakeComponents();
    agent = await startAgent(config(), { log: silentLogger(), components: fake.components });
    await agent.stop();
    agent = undefined;
    expect(fake.events).toEqual(['csi:start', 'devices:start', 'devices:drain', 'devices:close', 'csi:close']);
  });

  it('a component failing to start stops what already started and rejects', async () => {
    const fake = fakeComponents();
    fake.components.startDevicePlugins = async () => {
      throw new Error('no kubelet dir');
    };
    await expect(startAgent(config(), { log: silentLogger(), components: fake.components })).rejects.toThrow('no kubelet dir');
    expect(fake.events).toEqual(['csi:start', 'csi:close']);
  });
});
