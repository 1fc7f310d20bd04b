// Kubelet plugin-watcher registration and Identity, as kubelet would see them,
// plus the rule that secrets never reach the log.
import { describe, it, expect, afterEach } from 'vitest';
import { mkdtempSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import * as grpc from '@grpc/grpc-js';
import { startCsiDriver, type CsiDriver } from '../../../csi/driver.ts';
import { loadProto, lookup } from '../../../lib/grpc/proto.ts';
import { codeOf, csiClient, mountCap, type CsiClient } from './client.ts';
import { cleanupHost } from './host.ts';
import { MiB, spawnDriver, waitForSocket } from './harness.ts';

let dir: string;
let driver: CsiDriver | undefined;
let client: CsiClient | undefined;
afterEach(async () => {
  client?.close();
  await driver?.close();
  cleanupHost(dir);
});

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { lines, log: pino({ level: 'debug', redact: ['secrets', '*.secrets'] }, stream) };
}

describe('kubelet registration', () => {
  it('serves pluginregistration GetInfo as a CSIPlugin with supported_versions ["1.0.0"]', async () => {
    dir = mkdtempSync('/tmp/hp-csi-reg-');
    const { log } = capture();
    driver = await startCsiDriver({
      endpoint: `unix://${dir}/csi.sock`,
      nodeId: 'n1',
      dataDir: `${dir}/data`,
      driverName: 'csi.example.io',
      log,
      pluginsRegistry: join(dir, 'registry'),
    });
    const Reg = lookup<grpc.ServiceClientConstructor>(loadProto('pluginregistration/v1/api.proto'), 'pluginregistration.Registration');
    const c = new Reg(`unix://${dir}/registry/csi.example.io-reg.sock`, grpc.credentials.createInsecure(), {
      'grpc.default_authority': 'localhost',
    }) as grpc.Client & Record<string, Function>;
    const info = await new Promise<Record<string, unknown>>((res, rej) =>
      c.GetInfo!.call(c, {}, (e: Error | null, r: Record<string, unknown>) => (e ? rej(e) : res(r))),
    );
    expect(info).toMatchObject({ type: 'CSIPlugin', name: 'csi.example.io', endpoint: `${dir}/csi.sock`, supported_versions: ['1.0.0'] });
    c.close();
  });
});

describe('Identity and NodeGetInfo', () => {
  it('reports name, readiness, the topology segment and the max-volumes limit', async () => {
    dir = mkdtempSync('/tmp/hp-csi-id-');
    driver = await startCsiDriver({ endpoint: `unix://${dir}/csi.sock`, nodeId: 'node-7', dataDir: `${dir}/data`, log: capture().log, maxVolumes: 42 });
    client = csiClient(`${dir}/csi.sock`);
    expect(await client.identity.GetPluginInfo({})).toMatchObject({ name: 'csi.hostplane.io', vendor_version: '0.1.0' });
    expect(await client.identity.Probe({})).toMatchObject({ ready: { value: true } });
    expect(await client.node.NodeGetInfo({})).toMatchObject({
      node_id: 'node-7',
      max_volumes_per_node: 42,
      accessible_topology: { segments: { 'topology.hostplane.io/node': 'node-7' } },
    });
    expect(await driver.stats()).toEqual({ volumes: 0, bytes: 0 });
  });
});

describe('logging (the shipped logger and handler wrapper, in the real driver process)', () => {
  // The real `hostplane csi` process: main.ts builds the product logger
  // (lib/logging.ts, JSON on stderr) and every call goes through the real
  // wrapUnary. Secrets travel where a CO puts them: the `secrets` maps of every
  // call that has one, and mount flags (cifs-style `password=`), which a failed
  // mount would otherwise echo back into the error text and the log.
  it('logs one JSON line per call with method, ids, duration and code, and no secret ever reaches stderr or an error message', async () => {
    dir = mkdtempSync('/tmp/hp-csi-log-');
    driver = undefined;
    const SECRET = `hunter2-${randomBytes(6).toString('hex')}`;
    const secrets = { password: SECRET, token: SECRET };
    const child = spawnDriver(dir, {}, { logLevel: 'debug', stderr: 'pipe' });
    let out = '';
    let failed: grpc.ServiceError | undefined;
    child.stderr!.on('data', (b: Buffer) => {
      out += b.toString();
    });
    try {
      await waitForSocket(join(dir, 'csi.sock'), child);
      client = csiClient(`${dir}/csi.sock`);
      const c = client;
      const { volume } = await c.controller.CreateVolume({
        name: 'logged',
        capacity_range: { required_bytes: 16 * MiB },
        volume_capabilities: [mountCap()],
        secrets,
      });
      const id = volume.volume_id;
      await c.controller.ControllerPublishVolume({ volume_id: id, node_id: 'test-node', volume_capability: mountCap(), secrets });
      const staging = join(dir, 'staging');
      const target = join(dir, 'pods', 'p1', 'vol');
      mkdirSync(staging);
      // A mount flag carrying a credential that the kernel refuses: the error must not repeat it.
      const bad = mountCap('ext4', 'SINGLE_NODE_WRITER', [`password=${SECRET}`]);
      try {
        await c.node.NodeStageVolume({ volume_id: id, staging_target_path: staging, volume_capability: bad, secrets });
      } catch (e) {
        failed = e as grpc.ServiceError;
      }
      expect(failed, 'a mount with an unknown option must fail').toBeDefined();
      expect(`${failed!.message} ${failed!.details}`).not.toContain(SECRET);
      await c.node.NodeStageVolume({ volume_id: id, staging_target_path: staging, volume_capability: mountCap(), secrets });
      await c.node.NodePublishVolume({ volume_id: id, staging_target_path: staging, target_path: target, volume_capability: mountCap(), secrets });
      const { snapshot } = await c.controller.CreateSnapshot({ name: 'logged-snap', source_volume_id: id, secrets });
      await c.controller.ControllerExpandVolume({ volume_id: id, capacity_range: { required_bytes: 32 * MiB }, secrets });
      await codeOf(c.node.NodeExpandVolume({ volume_id: id, volume_path: target, secrets }));
      await c.controller.ListSnapshots({ secrets });
      await c.controller.DeleteSnapshot({ snapshot_id: snapshot.snapshot_id, secrets });
      await c.node.NodeUnpublishVolume({ volume_id: id, target_path: target });
      await c.node.NodeUnstageVolume({ volume_id: id, staging_target_path: staging });
      await c.controller.ControllerUnpublishVolume({ volume_id: id, node_id: 'test-node', secrets });
      await c.controller.DeleteVolume({ volume_id: id, secrets });
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    expect(out).not.toContain(SECRET);
    expect(out).not.toContain('hunter2');
    const lines = out
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const calls = lines.filter((l) => l.msg === 'call' || l.msg === 'call failed');
    const methods = calls.map((l) => l.method);
    for (const m of [
      '/csi.v1.Controller/CreateVolume',
      '/csi.v1.Controller/ControllerPublishVolume',
      '/csi.v1.Node/NodeStageVolume',
      '/csi.v1.Node/NodePublishVolume',
      '/csi.v1.Controller/CreateSnapshot',
      '/csi.v1.Controller/ControllerExpandVolume',
      '/csi.v1.Node/NodeExpandVolume',
      '/csi.v1.Controller/DeleteSnapshot',
      '/csi.v1.Controller/DeleteVolume',
    ])
      expect(methods).toContain(m);
    const del = calls.find((l) => l.method === '/csi.v1.Controller/DeleteVolume');
    expect(del).toMatchObject({ volume_id: expect.stringMatching(/^v-/), code: 'OK', ms: expect.any(Number) });
    // The refused mount is logged, with its code, yet without the flag's value.
    expect(calls.filter((l) => l.method === '/csi.v1.Node/NodeStageVolume').map((l) => l.code)).toContain(grpc.status[failed!.code]);
  });
});
