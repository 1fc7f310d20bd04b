import { describe, it, expect } from 'vitest';
import { DeviceState } from '../../../device-plugin/health.ts';

const dev = (id: string, numa?: number, usable = true) => ({ id, nodes: [`/dev/${id}`], usable, ...(numa === undefined ? {} : { numa }) });

describe('DeviceState', () => {
  it('lists devices with health and NUMA topology', () => {
    const s = new DeviceState(1);
    s.reset([dev('a', 0), dev('b')]);
    expect(s.list()).toEqual([
      { ID: 'a', health: 'Healthy', topology: { nodes: [{ ID: 0 }] } },
      { ID: 'b', health: 'Healthy', topology: null },
    ]);
  });

  it('a device that disappears turns Unhealthy and Healthy again when it returns', () => {
    const s = new DeviceState(1);
    s.reset([dev('a'), dev('b')]);
    expect(s.apply([dev('a')])).toBe(true);
    expect(s.list().map((d) => d.health)).toEqual(['Healthy', 'Unhealthy']);
    expect(s.apply([dev('a')])).toBe(false);
    expect(s.apply([dev('a'), dev('b')])).toBe(true);
    expect(s.list().map((d) => d.health)).toEqual(['Healthy', 'Healthy']);
  });

  it('a present but unusable device is Unhealthy', () => {
    const s = new DeviceState(1);
    s.reset([dev('a', 0, false)]);
    expect(s.list()[0]!.health).toBe('Unhealthy');
  });

  it('sharing lists each device replicas times as <dev>::<n>', () => {
    const s = new DeviceState(2);
    s.reset([dev('a')]);
    expect(s.list().map((d) => d.ID)).toEqual(['a::0', 'a::1']);
    expect(s.lookup('a::1')?.dev.id).toBe('a');
    expect(s.lookup('a::01')).toBeUndefined();
    expect(s.lookup('a')).toBeUndefined();
  });
});
