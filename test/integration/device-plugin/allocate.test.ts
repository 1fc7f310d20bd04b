// Allocate and GetPreferredAllocation over the real socket, errors included.
import { describe, it, expect } from 'vitest';
import { writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { env, FUSE, GPU, useHarness, startKubelet, start, grpcCode } from './harness.ts';

useHarness();

describe('Allocate', () => {
  it('returns nodes, mounts, env with ids, annotations and CDI names for one container', async () => {
    writeFileSync(join(env.devDir, 'fuse'), '');
    const kubelet = await startKubelet();
    await start();
    await kubelet.waitFor(() => kubelet!.plugins.size === 2, 2000, 'registered');
    const r = await kubelet.allocate(GPU, ['0000:86:00.0']);
    expect(r.container_responses).toHaveLength(1);
    expect(r.container_responses[0]).toEqual({
      envs: { HOSTPLANE_GPU_DEVICES: '0000:86:00.0' },
      mounts: [{ container_path: '/usr/local/nvidia/lib', host_path: '/usr/lib', read_only: true }],
      devices: [{ container_path: `${env.devDir}/nvidiactl`, host_path: `${env.devDir}/nvidiactl`, permissions: 'rw' }],
      annotations: { 'hostplane.dev/resource': 'gpu' },
      cdi_devices: [{ name: 'nvidia.com/gpu=0000:86:00.0' }],
    });
    const f = await kubelet.allocate(FUSE, ['fuse']);
    expect(f.container_responses[0]).toMatchObject({
      envs: { FUSE_MODE: 'on', HOSTPLANE_FUSE_DEVICES: 'fuse' },
      devices: [{ container_path: `${env.devDir}/fuse`, host_path: `${env.devDir}/fuse`, permissions: 'rw' }],
    });
  });

  it('unknown id → INVALID_ARGUMENT, unhealthy id → FAILED_PRECONDITION, the plugin keeps serving', async () => {
    writeFileSync(join(env.devDir, 'fuse'), '');
    const kubelet = await startKubelet();
    await start();
    await kubelet.waitFor(() => kubelet!.plugins.size === 2, 2000, 'registered');
    const unknown = await grpcCode(kubelet.allocate(FUSE, ['fuse9']));
    expect(unknown).toEqual({ code: status.INVALID_ARGUMENT, details: 'hostplane.dev/fuse: unknown device id "fuse9"' });
    rmSync(join(env.devDir, 'fuse'));
    await kubelet.waitFor(() => kubelet!.latest(FUSE)?.[0]?.health === 'Unhealthy', 1000, 'unhealthy');
    const sick = await grpcCode(kubelet.allocate(FUSE, ['fuse']));
    expect(sick).toEqual({ code: status.FAILED_PRECONDITION, details: 'hostplane.dev/fuse: device "fuse" is unhealthy' });
    expect((await grpcCode(kubelet.allocate(FUSE, []))).code).toBe(status.INVALID_ARGUMENT);
    expect((await kubelet.allocate(GPU, ['0000:3b:00.0'])).container_responses).toHaveLength(1);
  });
});

describe('GetPreferredAllocation', () => {
  it('prefers devices on one NUMA node and honours must_include', async () => {
    const kubelet = await startKubelet();
    await start();
    await kubelet.waitFor(() => kubelet!.latest(GPU)?.length === 4, 2000, 'GPUs');
    const all = kubelet.latest(GPU)!.map((d) => d.ID);
    expect(await kubelet.preferred(GPU, all, [], 2)).toEqual(['0000:3b:00.0', '0000:3c:00.0']);
    expect(await kubelet.preferred(GPU, all, ['0000:af:00.0'], 2)).toEqual(['0000:af:00.0', '0000:86:00.0']);
    expect((await grpcCode(kubelet.preferred(GPU, ['nope'], [], 1))).code).toBe(status.INVALID_ARGUMENT);
  });
});

describe('PreStartContainer', () => {
  it('is not requested (pre_start_required false) and answers empty if called anyway', async () => {
    writeFileSync(join(env.devDir, 'fuse'), '');
    const kubelet = await startKubelet();
    await start();
    await kubelet.waitFor(() => kubelet!.plugins.size === 2, 2000, 'registered');
    const conn = kubelet.plugins.get(FUSE)!;
    expect(conn.options.pre_start_required).toBe(false);
    const r = await new Promise((res, rej) =>
      (conn.client.PreStartContainer as (q: object, cb: (e: Error | null, v: unknown) => void) => void)({ devices_ids: ['fuse'] }, (e, v) =>
        e ? rej(e) : res(v),
      ),
    );
    expect(r).toEqual({});
  });
});
