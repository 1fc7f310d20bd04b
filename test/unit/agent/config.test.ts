import { describe, it, expect } from 'vitest';
import { validateConfig, AgentConfigError } from '../../../agent/config.ts';

const env = { NODE_NAME: 'node-a' } as NodeJS.ProcessEnv;
// The device plugin needs its resources; most cases here are about other fields.
const withDevices = (doc: unknown) =>
  doc && typeof doc === 'object' && !Array.isArray(doc) && !('devicePlugin' in doc) ? { ...doc, devicePlugin: { config: { resources: [] } } } : doc;
const v = (doc: unknown, e: NodeJS.ProcessEnv = env) => validateConfig(withDevices(doc), 'agent.yaml', e, '/opt/hostplane');

function problems(doc: unknown, e: NodeJS.ProcessEnv = env): string[] {
  try {
    v(doc, e);
  } catch (err) {
    expect(err).toBeInstanceOf(AgentConfigError);
    return (err as AgentConfigError).problems;
  }
  throw new Error('config was accepted');
}

describe('agent config', () => {
  it('fills every default from an almost empty file', () => {
    const c = v({ cni: { podCIDRs: ['10.244.1.0/24'] } });
    expect(c.nodeName).toBe('node-a');
    expect(c.http).toEqual({ address: '0.0.0.0', port: 9810 });
    expect(c.cni.binarySource).toBe('/opt/hostplane/cni/hostplane');
    expect(c.cni.binDir).toBe('/opt/cni/bin');
    expect(c.cni.confDir).toBe('/etc/cni/net.d');
    expect(c.csi.endpoint).toMatch(/^unix:\/\/\/var\/lib\/kubelet\/plugins\//);
    expect(c.devicePlugin.cdiDir).toBe('/var/run/cdi');
    expect(c.devicePlugin.kubeletDir).toBe('/var/lib/kubelet/device-plugins');
  });

  it('takes the API server from the in-cluster environment', () => {
    const c = v({}, { ...env, KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' });
    expect(c.kubernetes.apiServer).toBe('https://10.96.0.1:443');
    expect(c.kubernetes.tokenFile).toBe('/var/run/secrets/kubernetes.io/serviceaccount/token');
  });

  it('brackets an IPv6 service host', () => {
    const c = v({}, { ...env, KUBERNETES_SERVICE_HOST: 'fd00::1' });
    expect(c.kubernetes.apiServer).toBe('https://[fd00::1]:443');
  });

  it('refuses an http:// API server: the service-account token would travel in the clear', () => {
    expect(problems({ cni: { enabled: false }, kubernetes: { apiServer: 'http://10.96.0.1:8080' } })).toEqual([
      expect.stringMatching(/^kubernetes\.apiServer: must be an https:\/\/ URL .*in the clear.*"http:\/\/10\.96\.0\.1:8080"/),
    ]);
    expect(v({ kubernetes: { apiServer: 'https://10.96.0.1:6443' } }).kubernetes.apiServer).toBe('https://10.96.0.1:6443');
  });

  it('names each bad field by its dotted path, all at once', () => {
    const p = problems({ cni: { mtu: 'big', podCIDRs: ['10.0.0.0/33'], binDir: 'relative' }, http: { port: 70000 } });
    expect(p.some((m) => m.startsWith('cni.mtu:'))).toBe(true);
    expect(p.some((m) => m.startsWith('cni.podCIDRs:') && m.includes('10.0.0.0/33'))).toBe(true);
    expect(p.some((m) => m.startsWith('cni.binDir:') && m.includes('absolute'))).toBe(true);
    expect(p.some((m) => m.startsWith('http.port:'))).toBe(true);
  });

  it('rejects unknown fields instead of ignoring a typo', () => {
    expect(problems({ cni: { podCIDR: ['10.0.0.0/24'] } }, { ...env, KUBERNETES_SERVICE_HOST: 'h' })).toEqual([
      expect.stringMatching(/^cni\.podCIDR: unknown field/),
    ]);
  });

  it('needs pod CIDRs or an API server when CNI is enabled', () => {
    expect(problems({})[0]).toMatch(/^cni\.podCIDRs:/);
    expect(v({ cni: { enabled: false } }).cni.enabled).toBe(false);
  });

  it('accepts dual-stack CIDRs', () => {
    expect(v({ cni: { podCIDRs: ['10.244.1.0/24', 'fd00:10:244:1::/64'] } }).cni.podCIDRs).toHaveLength(2);
  });

  it('rejects a non-mapping document', () => {
    expect(problems(['a'])[0]).toMatch(/must be a mapping/);
  });

  it('refuses both devicePlugin.config and devicePlugin.configPath', () => {
    expect(problems({ cni: { enabled: false }, devicePlugin: { config: {}, configPath: '/etc/x.yaml' } })[0]).toMatch(/^devicePlugin\.config/);
  });

  it('validates the device plugin resources with its own schema, under devicePlugin.config', () => {
    const p = problems({ cni: { enabled: false }, devicePlugin: { config: { resources: [{ name: 'fuse', devices: [{ path: '/dev/fuse' }] }] } } });
    expect(p).toEqual([expect.stringMatching(/^devicePlugin\.config: resources\[0\]\.name: /)]);
  });

  it('requires device plugin resources unless the device plugin is disabled', () => {
    expect(problems({ cni: { enabled: false }, devicePlugin: {} })[0]).toMatch(/^devicePlugin\.config: is required/);
    expect(v({ cni: { enabled: false }, devicePlugin: { enabled: false } }).devicePlugin.enabled).toBe(false);
  });

  it('rejects a bad interface name and log level', () => {
    const p = problems({ cni: { enabled: false, bridge: 'a-very-long-bridge-name' }, logLevel: 'loud' });
    expect(p).toEqual([
      expect.stringMatching(/^logLevel: must be one of trace, /),
      expect.stringMatching(/^cni\.bridge: "a-very-long-bridge-name" is not a valid interface name/),
    ]);
  });
});

// One rule per option: the agent composes the components' validators, so it
// accepts and refuses exactly what each component does on its own.
describe("agent config uses each component's own rules", () => {
  const cidr = { podCIDRs: ['10.244.1.0/24'] };
  it("CNI: the plugin's MTU range (68-65535), reported under cni.mtu", () => {
    expect(v({ cni: { ...cidr, mtu: 68 } }).cni.mtu).toBe(68);
    expect(problems({ cni: { ...cidr, mtu: 67 } })).toEqual(['cni.mtu: must be an integer from 68 to 65535']);
  });
  it("CNI: the plugin's network-name rule, reported under cni.networkName", () => {
    expect(problems({ cni: { ...cidr, networkName: '-bad' } })).toEqual([expect.stringMatching(/^cni\.networkName: must be a non-empty string/)]);
  });
  it("CSI: the spec's driver-name rule (mixed case allowed, as `hostplane csi --driver-name`)", () => {
    expect(v({ cni: cidr, csi: { driverName: 'CSI.Example.com' } }).csi.driverName).toBe('CSI.Example.com');
    expect(problems({ cni: cidr, csi: { driverName: 'bad_name!' } })).toEqual([expect.stringMatching(/^csi\.driverName: must be a CSI driver name/)]);
  });
  it('CSI: the one unix-endpoint rule', () => {
    expect(v({ cni: cidr, csi: { endpoint: '/run/x.sock' } }).csi.endpoint).toBe('/run/x.sock');
    expect(problems({ cni: cidr, csi: { endpoint: 'tcp://127.0.0.1:1' } })).toEqual(['csi.endpoint: must be unix:///absolute/path, got "tcp://127.0.0.1:1"']);
  });
  it('CSI: defaults from csi/options.ts, registration with kubelet on', () => {
    const c = v({ cni: cidr });
    expect(c.csi).toMatchObject({
      driverName: 'csi.hostplane.io',
      dataDir: '/var/lib/hostplane/csi',
      maxVolumes: 256,
      pluginsRegistry: '/var/lib/kubelet/plugins_registry',
    });
  });
});
