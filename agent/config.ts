// The agent's one config file, validated once at start into a typed object
// the rest of the agent trusts. Every bad field is reported by its dotted path
// (`cni.mtu: must be an integer between 576 and 65535`), all of them at once,
// so an operator fixes the ConfigMap in one round.
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join, isAbsolute } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { Fields } from './config-fields.ts';
import { validateConfig as validateDeviceConfig, type DevicePluginConfig as DeviceResources } from '../device-plugin/config.ts';
import { errorMessage } from '../lib/errors.ts';

export interface CniConfig {
  enabled: boolean;
  /** The CNI executable to install (the built dist/cni/hostplane). */
  binarySource: string;
  binDir: string;
  confDir: string;
  confName: string;
  networkName: string;
  cniVersion: string;
  /** Fixed pod CIDRs; when empty they are read from the Node object. */
  podCIDRs: string[];
  bridge: string;
  mtu: number;
  isGateway: boolean;
  isDefaultGateway: boolean;
  /** Routes added in every pod via the bridge's gateway (e.g. the cluster CIDR when isDefaultGateway is off). */
  routes: string[];
  ipMasq: boolean;
  hairpinMode: boolean;
  ipamDataDir: string;
  portmap: boolean;
  /** Other plugin executables to install beside ours (portmap, loopback), skipped when missing. */
  extraPlugins: string[];
  pollSeconds: number;
}

export interface KubernetesConfig {
  /** https://host:port; default from KUBERNETES_SERVICE_HOST/PORT (in-cluster). */
  apiServer: string;
  tokenFile: string;
  caFile: string;
}

export interface CsiConfig {
  enabled: boolean;
  endpoint: string;
  driverName: string;
  dataDir: string;
  pluginsRegistry: string;
  maxVolumes?: number;
}

export interface DevicePluginConfig {
  enabled: boolean;
  /** The device plugin's own config (resources...), validated here by its schema. */
  config?: DeviceResources;
  configPath?: string;
  kubeletDir: string;
  pluginsRegistry: string;
  cdiDir: string;
  sysfsRoot: string;
}

export interface AgentConfig {
  nodeName: string;
  logLevel: string;
  http: { address: string; port: number };
  /** Seconds SIGTERM waits for in-flight gRPC calls before forcing them closed. */
  shutdownGraceSeconds: number;
  cni: CniConfig;
  kubernetes: KubernetesConfig;
  csi: CsiConfig;
  devicePlugin: DevicePluginConfig;
}

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(file: string, problems: string[]) {
    super(`invalid config ${file}:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

const SA = '/var/run/secrets/kubernetes.io/serviceaccount';
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

function defaultApiServer(env: NodeJS.ProcessEnv): string {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT ?? '443';
  if (!host) return '';
  return `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** Validate a parsed document. `env` and `selfDir` are seams for tests. */
export function validateConfig(doc: unknown, file: string, env: NodeJS.ProcessEnv = process.env, selfDir = defaultSelfDir()): AgentConfig {
  const f = new Fields(doc, '');
  const http = f.object('http');
  const cni = f.object('cni');
  const kube = f.object('kubernetes');
  const csi = f.object('csi');
  const dp = f.object('devicePlugin');
  f.noOthers(['nodeName', 'logLevel', 'http', 'shutdownGraceSeconds', 'cni', 'kubernetes', 'csi', 'devicePlugin']);
  http.noOthers(['address', 'port']);
  cni.noOthers(['enabled', 'binarySource', 'binDir', 'confDir', 'confName', 'networkName', 'cniVersion', 'podCIDRs', 'bridge', 'mtu',
    'isGateway', 'isDefaultGateway', 'routes', 'ipMasq', 'hairpinMode', 'ipamDataDir', 'portmap', 'extraPlugins', 'pollSeconds']);
  kube.noOthers(['apiServer', 'tokenFile', 'caFile']);
  csi.noOthers(['enabled', 'endpoint', 'driverName', 'dataDir', 'pluginsRegistry', 'maxVolumes']);
  dp.noOthers(['enabled', 'config', 'configPath', 'kubeletDir', 'pluginsRegistry', 'cdiDir', 'sysfsRoot']);

  const kubeletDefault = '/var/lib/kubelet';
  const cfg: AgentConfig = {
    nodeName: f.string('nodeName', env.NODE_NAME || hostname(), { pattern: /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, what: 'a DNS subdomain (the Node name)' }),
    logLevel: f.oneOf('logLevel', LOG_LEVELS, env.HOSTPLANE_LOG_LEVEL || 'info'),
    http: {
      address: http.string('address', '0.0.0.0'),
      port: http.int('port', 9810, 0, 65535),
    },
    shutdownGraceSeconds: f.int('shutdownGraceSeconds', 5, 0, 300),
    cni: {
      enabled: cni.bool('enabled', true),
      binarySource: cni.path('binarySource', join(selfDir, 'cni', 'hostplane')),
      binDir: cni.path('binDir', '/opt/cni/bin'),
      confDir: cni.path('confDir', '/etc/cni/net.d'),
      confName: cni.string('confName', '10-hostplane.conflist', { pattern: /^[A-Za-z0-9._-]+\.conflist$/, what: 'a file name ending in .conflist' }),
      networkName: cni.string('networkName', 'hostplane', { pattern: /^[A-Za-z0-9][A-Za-z0-9._-]*$/, what: 'a CNI network name' }),
      cniVersion: cni.oneOf('cniVersion', ['1.1.0', '1.0.0'], '1.0.0'),
      podCIDRs: cni.cidrList('podCIDRs'),
      bridge: cni.string('bridge', 'hp0', { pattern: /^[A-Za-z0-9_.-]{1,15}$/, what: 'an interface name of at most 15 characters' }),
      mtu: cni.int('mtu', 1500, 576, 65535),
      isGateway: cni.bool('isGateway', true),
      isDefaultGateway: cni.bool('isDefaultGateway', true),
      routes: cni.cidrList('routes'),
      ipMasq: cni.bool('ipMasq', true),
      hairpinMode: cni.bool('hairpinMode', true),
      ipamDataDir: cni.path('ipamDataDir', '/var/lib/hostplane/ipam'),
      portmap: cni.bool('portmap', true),
      extraPlugins: cni.pathList('extraPlugins', []),
      pollSeconds: cni.int('pollSeconds', 30, 1, 86400),
    },
    kubernetes: {
      apiServer: kube.string('apiServer', defaultApiServer(env), { pattern: /^(https?:\/\/\S+)?$/, what: 'an http(s):// URL' }),
      tokenFile: kube.path('tokenFile', `${SA}/token`),
      caFile: kube.path('caFile', `${SA}/ca.crt`),
    },
    csi: {
      enabled: csi.bool('enabled', true),
      endpoint: csi.string('endpoint', `unix://${kubeletDefault}/plugins/csi.hostplane.io/csi.sock`, { pattern: /^(unix:\/\/)?\/\S+$/, what: 'unix:///absolute/path' }),
      driverName: csi.string('driverName', 'csi.hostplane.io', { pattern: /^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$/, what: 'a CSI driver name (DNS subdomain, at most 63 characters)' }),
      dataDir: csi.path('dataDir', '/var/lib/hostplane/csi'),
      pluginsRegistry: csi.path('pluginsRegistry', `${kubeletDefault}/plugins_registry`),
      maxVolumes: csi.optionalInt('maxVolumes', 0, 1_000_000),
    },
    devicePlugin: {
      enabled: dp.bool('enabled', true),
      config: undefined,
      configPath: dp.optionalPath('configPath'),
      kubeletDir: dp.path('kubeletDir', `${kubeletDefault}/device-plugins`),
      pluginsRegistry: dp.path('pluginsRegistry', `${kubeletDefault}/plugins_registry`),
      cdiDir: dp.path('cdiDir', '/var/run/cdi'),
      sysfsRoot: dp.path('sysfsRoot', '/sys'),
    },
  };
  if (cfg.cni.enabled && cfg.cni.podCIDRs.length === 0 && !cfg.kubernetes.apiServer) {
    f.problem('cni.podCIDRs', 'is empty and no Kubernetes API is known (set kubernetes.apiServer or run in-cluster) to read the Node\'s spec.podCIDRs');
  }
  const rawDevices = dp.raw('config');
  if (rawDevices !== undefined) {
    try {
      cfg.devicePlugin.config = validateDeviceConfig(rawDevices);
    } catch (e) {
      f.problem('devicePlugin.config', errorMessage(e));
    }
  }
  if (rawDevices !== undefined && cfg.devicePlugin.configPath !== undefined) {
    f.problem('devicePlugin.config', 'and devicePlugin.configPath are both set; give one');
  }
  if (cfg.devicePlugin.enabled && rawDevices === undefined && cfg.devicePlugin.configPath === undefined) {
    f.problem('devicePlugin.config', 'is required when the device plugin is enabled (or give devicePlugin.configPath, or set devicePlugin.enabled: false)');
  }
  if (f.problems.length) throw new ConfigError(file, f.problems);
  return cfg;
}

export async function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): Promise<AgentConfig> {
  if (!isAbsolute(file) && !file) throw new ConfigError(file, ['--config: a file is required']);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new ConfigError(file, [`cannot read: ${(e as Error).message}`]);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text) ?? {};
  } catch (e) {
    throw new ConfigError(file, [`not valid YAML: ${(e as Error).message}`]);
  }
  return validateConfig(doc, file, env);
}

/** Directory of the running bundle (dist/), where the CNI binary is built beside it. */
function defaultSelfDir(): string {
  const entry = process.argv[1];
  return entry ? dirname(entry) : process.cwd();
}
