import { describe, it, expect } from 'vitest';
import { status } from '@grpc/grpc-js';
import { allocateContainer } from '../../../device-plugin/allocate.ts';
import { DeviceState } from '../../../device-plugin/health.ts';
import { validateConfig } from '../../../device-plugin/config.ts';
import { GrpcError } from '../../../lib/grpc/status-error.ts';

function setup(extra: Record<string, unknown> = {}) {
  const res = validateConfig({
    resources: [
      {
        name: 'nvidia.com/gpu',
        devices: [{ path: '/dev/nvidia[0-9]*' }],
        deviceNodes: ['/dev/nvidiactl', { path: '/dev/nvidia-uvm', permissions: 'rw' }],
        mounts: [{ hostPath: '/usr/lib/nvidia', containerPath: '/usr/local/nvidia', readOnly: true }],
        env: { NVIDIA_DRIVER_CAPABILITIES: 'compute' },
        annotations: { 'hostplane.dev/gpu': 'yes' },
        ...extra,
      },
    ],
  }).resources[0]!;
  const state = new DeviceState(res.replicas);
  state.reset([
    { id: 'nvidia0', nodes: ['/dev/nvidia0'], numa: 0, usable: true },
    { id: 'nvidia1', nodes: ['/dev/nvidia1'], numa: 1, usable: true },
  ]);
  return { res, state };
}

function codeOf(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof GrpcError ? e.code : -1;
  }
  return undefined;
}

describe('Allocate', () => {
  it('returns device nodes with permissions, extra nodes, mounts, env with the ids, annotations and CDI names', () => {
    const { res, state } = setup();
    const r = allocateContainer(res, state, ['nvidia1', 'nvidia0']);
    expect(r.devices).toEqual([
      { container_path: '/dev/nvidia1', host_path: '/dev/nvidia1', permissions: 'rw' },
      { container_path: '/dev/nvidia0', host_path: '/dev/nvidia0', permissions: 'rw' },
      { container_path: '/dev/nvidiactl', host_path: '/dev/nvidiactl', permissions: 'rw' },
      { container_path: '/dev/nvidia-uvm', host_path: '/dev/nvidia-uvm', permissions: 'rw' },
    ]);
    expect(r.mounts).toEqual([{ container_path: '/usr/local/nvidia', host_path: '/usr/lib/nvidia', read_only: true }]);
    expect(r.envs).toEqual({ NVIDIA_DRIVER_CAPABILITIES: 'compute', HOSTPLANE_GPU_DEVICES: 'nvidia1,nvidia0' });
    expect(r.annotations).toEqual({ 'hostplane.dev/gpu': 'yes' });
    expect(r.cdi_devices).toEqual([{ name: 'nvidia.com/gpu=nvidia1' }, { name: 'nvidia.com/gpu=nvidia0' }]);
  });

  it('unknown id → INVALID_ARGUMENT naming it', () => {
    const { res, state } = setup();
    expect(codeOf(() => allocateContainer(res, state, ['nvidia0', 'nvidia7']))).toBe(status.INVALID_ARGUMENT);
    expect(() => allocateContainer(res, state, ['nvidia7'])).toThrow('nvidia.com/gpu: unknown device id "nvidia7"');
  });

  it('unhealthy id → FAILED_PRECONDITION naming it', () => {
    const { res, state } = setup();
    state.apply([{ id: 'nvidia0', nodes: ['/dev/nvidia0'], numa: 0, usable: true }]);
    expect(codeOf(() => allocateContainer(res, state, ['nvidia1']))).toBe(status.FAILED_PRECONDITION);
    expect(() => allocateContainer(res, state, ['nvidia1'])).toThrow('device "nvidia1" is unhealthy');
  });

  it('no ids → INVALID_ARGUMENT', () => {
    const { res, state } = setup();
    expect(codeOf(() => allocateContainer(res, state, []))).toBe(status.INVALID_ARGUMENT);
  });

  it('shared replicas map to the physical device once', () => {
    const { res, state } = setup({ sharing: { replicas: 3 }, cdi: false, deviceNodes: [] });
    const r = allocateContainer(res, state, ['nvidia0::0', 'nvidia0::2']);
    expect(r.devices).toEqual([{ container_path: '/dev/nvidia0', host_path: '/dev/nvidia0', permissions: 'rw' }]);
    expect(r.cdi_devices).toEqual([]);
    expect(r.envs.HOSTPLANE_GPU_DEVICES).toBe('nvidia0::0,nvidia0::2');
    expect(codeOf(() => allocateContainer(res, state, ['nvidia0::3']))).toBe(status.INVALID_ARGUMENT);
    expect(codeOf(() => allocateContainer(res, state, ['nvidia0']))).toBe(status.INVALID_ARGUMENT);
  });
});
