import { describe, it, expect } from 'vitest';
import { validateConfig, AgentConfigError } from '../../../../agent/config.ts';

const env = { NODE_NAME: 'node-a' } as NodeJS.ProcessEnv;
const base = { devicePlugin: { enabled: false }, kubernetes: { apiServer: 'https://10.96.0.1:443' } };
const v = (doc: Record<string, unknown>) => validateConfig({ ...base, ...doc }, 'agent.yaml', env, '/opt/hostplane');
function problems(doc: Record<string, unknown>): string[] {
  try {
    v(doc);
  } catch (e) {
    expect(e).toBeInstanceOf(AgentConfigError);
    return (e as AgentConfigError).problems;
  }
  throw new Error('accepted');
}

describe('agent config: routing', () => {
  it('is off by default, with the documented defaults', () => {
    expect(v({}).routing).toEqual({ mode: 'off', vxlan: { vni: 1, port: 8472 }, masquerade: true, clusterCIDRs: [], resyncSeconds: 10 });
  });
  it('takes the shorthand `routing: auto` and the mapping', () => {
    expect(v({ routing: 'auto' }).routing.mode).toBe('auto');
    expect(v({ routing: { mode: 'vxlan', vxlan: { vni: 42, port: 4789 }, clusterCIDRs: ['10.96.0.0/12'] } }).routing).toMatchObject({
      mode: 'vxlan',
      vxlan: { vni: 42, port: 4789 },
      clusterCIDRs: ['10.96.0.0/12'],
    });
  });
  it('names every bad field', () => {
    expect(problems({ routing: { mode: 'bgp', vxlan: { vni: 0, port: 'x', ttl: 1 }, masquerade: 'yes', clusterCIDRs: ['10.0.0.0/33'], extra: 1 } })).toEqual([
      'routing.extra: unknown field (known: mode, vxlan, masquerade, clusterCIDRs, resyncSeconds)',
      'routing.vxlan.ttl: unknown field (known: vni, port)',
      'routing.mode: must be one of off, auto, host-gw, vxlan, got "bgp"',
      'routing.vxlan.vni: must be an integer between 1 and 16777215, got 0',
      'routing.vxlan.port: must be an integer between 1 and 65535, got "x"',
      'routing.masquerade: must be true or false, got "yes"',
      'routing.clusterCIDRs: not a CIDR: "10.0.0.0/33"',
    ]);
    expect(problems({ routing: 'fast' })).toEqual(['routing: must be one of off, auto, host-gw, vxlan, got "fast"']);
  });
  it('needs a Kubernetes API to watch the Nodes', () => {
    expect(() =>
      validateConfig({ devicePlugin: { enabled: false }, cni: { podCIDRs: ['10.244.0.0/24'] }, routing: 'auto' }, 'agent.yaml', env, '/opt/hostplane'),
    ).toThrow(/routing.mode: is auto but no Kubernetes API is known/);
  });
});
