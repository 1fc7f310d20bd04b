// Kubelet plugin-watcher registration and Identity, as kubelet would see them,
// plus the rule that secrets never reach the log.
import { describe, it, expect, afterEach } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import * as grpc from '@grpc/grpc-js';
import { startCsiDriver, type CsiDriver } from '../../../csi/driver.ts';
import { loadProto, lookup } from '../../../lib/grpc/proto.ts';
import { csiClient, mountCap, type CsiClient } from './client.ts';
import { cleanupHost } from './host.ts';
import { MiB } from './harness.ts';

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
  const stream = new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } });
  return { lines, log: pino({ level: 'debug', redact: ['secrets', '*.secrets'] }, stream) };
}

describe('kubelet registration', () => {
  it('serves pluginregistration GetInfo as a CSIPlugin with supported_versions ["1.0.0"]', async () => {
    dir = mkdtempSync('/tmp/hp-csi-reg-');
    const { log } = capture();
    driver = await startCsiDriver({ endpoint: `unix://${dir}/csi.sock`, nodeId: 'n1', dataDir: `${dir}/data`, driverName: 'csi.example.io', log, pluginsRegistry: join(dir, 'registry') });
    const Reg = lookup<grpc.ServiceClientConstructor>(loadProto('pluginregistration/v1/api.proto'), 'pluginregistration.Registration');
    const c = new Reg(`unix://${dir}/registry/csi.example.io-reg.sock`, grpc.credentials.createInsecure(), { 'grpc.default_authority': 'localhost' }) as grpc.Client & Record<string, Function>;
    const info = await new Promise<Record<string, unknown>>((res, rej) => c.GetInfo!.call(c, {}, (e: Error | null, r: Record<string, unknown>) => (e ? rej(e) : res(r))));
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
    expect(await client.node.NodeGetInfo({})).toMatchObject({ node_id: 'node-7', max_volumes_per_node: 42, accessible_topology: { segments: { 'topology.hostplane.io/node': 'node-7' } } });
    expect(await driver.stats()).toEqual({ volumes: 0, bytes: 0 });
  });
});

describe('logging', () => {
  it('logs one line per call with method, volume id, duration and code, and never the secrets', async () => {
    dir = mkdtempSync('/tmp/hp-csi-log-');
    const { lines, log } = capture();
    driver = await startCsiDriver({ endpoint: `unix://${dir}/csi.sock`, nodeId: 'n1', dataDir: `${dir}/data`, log });
    client = csiClient(`${dir}/csi.sock`);
    const { volume } = await client.controller.CreateVolume({ name: 'logged', capacity_range: { required_bytes: MiB }, volume_capabilities: [mountCap()], secrets: { password: 'hunter2-top-secret' } });
    await client.controller.DeleteVolume({ volume_id: volume.volume_id, secrets: { token: 'hunter2-top-secret' } });
    const all = lines.join('');
    expect(all).not.toContain('hunter2');
    const calls = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'call');
    expect(calls.find((c) => c.method === '/csi.v1.Controller/DeleteVolume')).toMatchObject({ volume_id: volume.volume_id, code: 'OK' });
    expect(typeof calls[0].ms).toBe('number');
  });
});
