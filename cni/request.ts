// The CNI_* environment, validated into a typed request.
import { CniError, Code } from './errors.ts';
import { isValidIfname } from './config.ts';
import { type Ip, parseIp } from './ipam/ip.ts';
import { isMac, isSafeName } from '../lib/names.ts';

export type Command = 'ADD' | 'DEL' | 'CHECK' | 'STATUS' | 'GC' | 'VERSION';
const COMMANDS: readonly string[] = ['ADD', 'DEL', 'CHECK', 'STATUS', 'GC', 'VERSION'];

export interface CniArgs {
  podNamespace?: string;
  podName?: string;
  podUid?: string;
  infraContainerId?: string;
  /** CNI_ARGS IP=a,b: addresses requested for this attachment (host-local's convention). */
  ips: Ip[];
  /** CNI_ARGS MAC=…: the container interface's MAC (the bridge plugin's convention). */
  mac?: string;
}

export interface CniRequest {
  command: Command;
  containerId: string;
  netns: string;
  ifname: string;
  args: CniArgs;
  path: string[];
}

const KNOWN_ARGS = new Set(['IgnoreUnknown', 'K8S_POD_NAMESPACE', 'K8S_POD_NAME', 'K8S_POD_UID', 'K8S_POD_INFRA_CONTAINER_ID', 'IP', 'MAC']);

const envErr = (msg: string, details = '') => new CniError(Code.InvalidEnv, msg, details);

export function parseCommand(env: NodeJS.ProcessEnv): Command {
  const c = env.CNI_COMMAND;
  if (!c) throw envErr('CNI_COMMAND is not set');
  if (!COMMANDS.includes(c)) throw envErr(`unknown CNI_COMMAND "${c}"`, `expected one of ${COMMANDS.join(', ')}`);
  return c as Command;
}

export function parseRequest(command: Command, env: NodeJS.ProcessEnv): CniRequest {
  const perAttachment = command === 'ADD' || command === 'DEL' || command === 'CHECK';
  const containerId = env.CNI_CONTAINERID ?? '';
  const netns = env.CNI_NETNS ?? '';
  const ifname = env.CNI_IFNAME ?? '';
  if (perAttachment) {
    if (!containerId) throw envErr('CNI_CONTAINERID is not set');
    if (!isSafeName(containerId)) throw envErr(`CNI_CONTAINERID "${containerId}" has invalid characters`);
    if (!ifname) throw envErr('CNI_IFNAME is not set');
    if (!isValidIfname(ifname)) throw envErr(`CNI_IFNAME "${ifname}" is not a valid interface name`, 'at most 15 bytes, no "/", ":" or spaces');
    // DEL must work after the sandbox is gone, so only ADD and CHECK need a netns.
    if (command !== 'DEL' && !netns) throw envErr('CNI_NETNS is not set');
  }
  if (netns && !netns.startsWith('/')) throw envErr(`CNI_NETNS "${netns}" is not an absolute path`);
  if (command !== 'VERSION' && !env.CNI_PATH) throw envErr('CNI_PATH is not set');
  return {
    command,
    containerId,
    netns,
    ifname,
    args: parseCniArgs(env.CNI_ARGS ?? ''),
    path: (env.CNI_PATH ?? '').split(':').filter(Boolean),
  };
}

export function parseCniArgs(s: string): CniArgs {
  const out: CniArgs = { ips: [] };
  if (!s) return out;
  const pairs = s
    .split(';')
    .filter(Boolean)
    .map((p) => {
      const eq = p.indexOf('=');
      if (eq <= 0) throw envErr(`CNI_ARGS: "${p}" is not KEY=VALUE`);
      return [p.slice(0, eq), p.slice(eq + 1)] as const;
    });
  const ignoreUnknown = pairs.some(([k, v]) => k === 'IgnoreUnknown' && ['1', 'true', 'True', 'TRUE'].includes(v));
  for (const [k, v] of pairs) {
    switch (k) {
      case 'K8S_POD_NAMESPACE':
        out.podNamespace = v;
        break;
      case 'K8S_POD_NAME':
        out.podName = v;
        break;
      case 'K8S_POD_UID':
        out.podUid = v;
        break;
      case 'K8S_POD_INFRA_CONTAINER_ID':
        out.infraContainerId = v;
        break;
      case 'IP':
        out.ips = v.split(',').map((a) => {
          const ip = parseIp(a.trim().split('/')[0] ?? '');
          if (!ip) throw envErr(`CNI_ARGS: IP "${a}" is not an IP address`);
          return ip;
        });
        break;
      case 'MAC':
        if (!isMac(v)) throw envErr(`CNI_ARGS: MAC "${v}" is not a MAC address`);
        out.mac = v.toLowerCase();
        break;
      default:
        if (!KNOWN_ARGS.has(k) && !ignoreUnknown) throw envErr(`CNI_ARGS: unknown key "${k}"`, 'set IgnoreUnknown=1 to ignore keys this plugin does not use');
    }
  }
  return out;
}
