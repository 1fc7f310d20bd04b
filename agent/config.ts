// The agent's one config file, validated once at start into a typed object
// the rest of the agent trusts. Every bad field is reported by its dotted path
// (`cni.mtu: must be an integer between 576 and 65535`), all of them at once,
// so an operator fixes the ConfigMap in one round.
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join, isAbsolute } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { Fields } from '../lib/fields.ts';
import { LOG_LEVELS } from '../lib/log-levels.ts';
import { familyOf } from '../lib/ip-family.ts';
import { CSI_OPTION_KEYS, readCsiOptions, type CsiOptions } from '../csi/options.ts';
import { DEVICE_PLUGIN_OPTION_KEYS, readDevicePluginOptions, type DevicePluginOptions } from '../device-plugin/options.ts';
import { CniError } from '../cni/errors.ts';
import { parseNetConf } from '../cni/config.ts';
import { buildConflist } from './cni/conflist.ts';
import { validateRouting, type RoutingConfig } from './routing/config.ts';

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
  /** The CNI server the executable forwards requests to (agent/cni/server.ts). */
  server: CniServerConfig;
}

export interface CniServerConfig {
  enabled: boolean;
  /** Unix socket path (0600, root); written into the conflist as agentSocket. */
  socket: string;
  /** Directories a request's netns may be in; others are left to the executable. */
  netnsDirs: string[];
  /** Directories a request's ipam.dataDir may be under; default: ipamDataDir. */
  ipamDirs: string[];
  /** Most host tools run at once while serving requests. */
  maxExecs: number;
}

export interface KubernetesConfig {
  /** https://host:port; default from KUBERNETES_SERVICE_HOST/PORT (in-cluster). */
  apiServer: string;
  tokenFile: string;
  caFile: string;
}

/** The CSI driver's own options (csi/options.ts), minus the node id (the agent's nodeName), plus whether to run it. */
export type CsiConfig = { enabled: boolean } & Omit<CsiOptions, 'nodeId'>;

/** The device plugin's own options (device-plugin/options.ts), plus whether to run it. */
export type DevicePluginConfig = { enabled: boolean } & DevicePluginOptions;

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
  /** Routes to the other nodes' pod CIDRs (agent/routing/config.ts). */
  routing: RoutingConfig;
}

export class AgentConfigError extends Error {
  readonly problems: string[];
  constructor(file: string, problems: string[]) {
    super(`invalid config ${file}:\n  ${problems.join('\n  ')}`);
    this.name = 'AgentConfigError';
    this.problems = problems;
  }
}

const SA = '/var/run/secrets/kubernetes.io/serviceaccount';
const KUBELET_PLUGINS_REGISTRY = '/var/lib/kubelet/plugins_registry';

function defaultApiServer(env: NodeJS.ProcessEnv): string {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT ?? '443';
  if (!host) return '';
  return `https://${familyOf(host) === 6 ? `[${host}]` : host}:${port}`;
}

/** Validate a parsed document. `env` and `selfDir` are seams for tests. */
export function validateConfig(doc: unknown, file: string, env: NodeJS.ProcessEnv = process.env, selfDir = defaultSelfDir()): AgentConfig {
  const f = new Fields(doc, '');
  const http = f.object('http');
  const cni = f.object('cni');
  const kube = f.object('kubernetes');
  const csi = f.object('csi');
  const dp = f.object('devicePlugin');
  f.noOthers(['nodeName', 'logLevel', 'http', 'shutdownGraceSeconds', 'cni', 'kubernetes', 'csi', 'devicePlugin', 'routing']);
  http.noOthers(['address', 'port']);
  cni.noOthers([
    'enabled',
    'binarySource',
    'binDir',
    'confDir',
    'confName',
    'networkName',
    'cniVersion',
    'podCIDRs',
    'bridge',
    'mtu',
    'isGateway',
    'isDefaultGateway',
    'routes',
    'ipMasq',
    'hairpinMode',
    'ipamDataDir',
    'portmap',
    'extraPlugins',
    'pollSeconds',
    'server',
  ]);
  const cniServer = cni.object('server');
  cniServer.noOthers(['enabled', 'socket', 'netnsDirs', 'ipamDirs', 'maxExecs']);
  kube.noOthers(['apiServer', 'tokenFile', 'caFile']);
  csi.noOthers(['enabled', ...CSI_OPTION_KEYS.filter((k) => k !== 'nodeId')]);
  dp.noOthers(['enabled', ...DEVICE_PLUGIN_OPTION_KEYS]);

  const nodeName = f.string('nodeName', env.NODE_NAME || hostname(), {
    pattern: /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/,
    what: 'a DNS subdomain (the Node name)',
  });
  const csiEnabled = csi.bool('enabled', true);
  // In a cluster the driver registers with kubelet's plugin watcher.
  const { nodeId: _nodeId, ...csiOptions } = readCsiOptions(csi, { nodeId: nodeName, pluginsRegistry: KUBELET_PLUGINS_REGISTRY });
  const dpEnabled = dp.bool('enabled', true);
  const dpOptions = readDevicePluginOptions(dp, dpEnabled);
  const cfg: AgentConfig = {
    nodeName,
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
      // The keys that go into the plugin's config are checked by the plugin's own parser below.
      networkName: cni.string('networkName', 'hostplane'),
      cniVersion: cni.oneOf('cniVersion', ['1.1.0', '1.0.0'], '1.0.0'),
      podCIDRs: cni.cidrList('podCIDRs'),
      bridge: cni.string('bridge', 'hp0'),
      mtu: cni.int('mtu', 1500, 0, Number.MAX_SAFE_INTEGER),
      isGateway: cni.bool('isGateway', true),
      isDefaultGateway: cni.bool('isDefaultGateway', true),
      routes: cni.cidrList('routes'),
      ipMasq: cni.bool('ipMasq', true),
      hairpinMode: cni.bool('hairpinMode', true),
      ipamDataDir: cni.path('ipamDataDir', '/var/lib/hostplane/ipam'),
      portmap: cni.bool('portmap', true),
      extraPlugins: cni.pathList('extraPlugins', []),
      pollSeconds: cni.int('pollSeconds', 30, 1, 86400),
      server: {
        enabled: cniServer.bool('enabled', true),
        socket: cniServer.path('socket', '/run/hostplane/cni.sock'),
        netnsDirs: cniServer.pathList('netnsDirs', ['/run/netns', '/var/run/netns']),
        ipamDirs: cniServer.pathList('ipamDirs', []),
        maxExecs: cniServer.int('maxExecs', 4, 1, 64),
      },
    },
    kubernetes: {
      // https only: the agent sends its service-account token with every
      // request, and over http:// anyone on the path could replay it.
      apiServer: kube.string('apiServer', defaultApiServer(env), {
        pattern: /^(https:\/\/\S+)?$/,
        what: 'an https:// URL (http:// would send the service-account token in the clear)',
      }),
      tokenFile: kube.path('tokenFile', `${SA}/token`),
      caFile: kube.path('caFile', `${SA}/ca.crt`),
    },
    csi: { enabled: csiEnabled, ...csiOptions },
    devicePlugin: { enabled: dpEnabled, ...dpOptions },
    routing: validateRouting(f),
  };
  checkWithPlugin(cfg.cni, f);
  if (cfg.routing.mode !== 'off' && !cfg.kubernetes.apiServer) {
    f.problem('routing.mode', `is ${cfg.routing.mode} but no Kubernetes API is known (set kubernetes.apiServer or run in-cluster) to watch the Nodes`);
  }
  if (cfg.cni.server.ipamDirs.length === 0) cfg.cni.server.ipamDirs = [cfg.cni.ipamDataDir];
  if (cfg.cni.enabled && cfg.cni.podCIDRs.length === 0 && !cfg.kubernetes.apiServer) {
    f.problem('cni.podCIDRs', "is empty and no Kubernetes API is known (set kubernetes.apiServer or run in-cluster) to read the Node's spec.podCIDRs");
  }
  if (f.problems.length) throw new AgentConfigError(file, f.problems);
  return cfg;
}

// The conflist's plugin keys are the CNI plugin's options: the agent checks
// them with the plugin's own parser (cni/config.ts), so it can never write a
// config the plugin would refuse at the first pod, and no rule lives twice.
const CONF_KEY_TO_FIELD: Record<string, string> = { name: 'networkName', 'ipam.dataDir': 'ipamDataDir' };

function checkWithPlugin(cni: CniConfig, f: Fields): void {
  // Pod CIDRs may come later from the Node object; any valid range stands in.
  const list = JSON.parse(buildConflist(cni, cni.podCIDRs.length ? cni.podCIDRs : ['10.0.0.0/24'])) as { plugins: object[] };
  const plugin = { ...list.plugins[0], cniVersion: cni.cniVersion, name: cni.networkName };
  try {
    parseNetConf(Buffer.from(JSON.stringify(plugin)));
  } catch (e) {
    if (!(e instanceof CniError)) throw e;
    const m = /^invalid config: (\S+) (.*)$/.exec(e.message);
    const key = m?.[1] ?? '';
    f.problem(`cni.${CONF_KEY_TO_FIELD[key] ?? key}`, m?.[2] ?? e.message);
  }
}

export async function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): Promise<AgentConfig> {
  if (!isAbsolute(file) && !file) throw new AgentConfigError(file, ['--config: a file is required']);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new AgentConfigError(file, [`cannot read: ${(e as Error).message}`]);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text) ?? {};
  } catch (e) {
    throw new AgentConfigError(file, [`not valid YAML: ${(e as Error).message}`]);
  }
  return validateConfig(doc, file, env);
}

/** Directory of the running bundle (dist/), where the CNI binary is built beside it. */
function defaultSelfDir(): string {
  const entry = process.argv[1];
  return entry ? dirname(entry) : process.cwd();
}
