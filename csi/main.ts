// `hostplane csi`: flags in, startCsiDriver out. The only place in the CSI
// driver that reads argv, writes to stdout/stderr outside the logger or
// decides the exit code.
import { parseArgs } from 'node:util';
import { isAbsolute } from 'node:path';
import { createLogger } from '../lib/logging.ts';
import { startCsiDriver, DEFAULT_MAX_VOLUMES } from './driver.ts';
import { DEFAULT_DRIVER_NAME } from './context.ts';

const USAGE = `usage: hostplane csi --endpoint unix:///abs/path.sock --node-id NAME --data-dir DIR [flags]

  --endpoint URL           unix socket the CSI services listen on (required)
  --node-id NAME           this node's id, also its topology segment (required)
  --data-dir DIR           where volume images, snapshots and state live (required, absolute)
  --driver-name NAME       CSI driver name (default ${DEFAULT_DRIVER_NAME})
  --plugins-registry DIR   also register with kubelet's plugin watcher in DIR
  --max-volumes N          volumes this node accepts (default ${DEFAULT_MAX_VOLUMES})
  --capacity-reserve SIZE  bytes of the data dir's filesystem never promised to volumes
                           (bytes, or with Ki/Mi/Gi/Ti; default 5% of the filesystem, at most 1Gi)
  --overprovision-ratio R  promised bytes allowed per byte of disk (default 1: no overcommit)
  --log-level LEVEL        pino level (default info)
`;

const DRIVER_NAME_RE = /^[a-zA-Z0-9]([a-zA-Z0-9.-]{0,61}[a-zA-Z0-9])?$/;

function usageError(msg: string): number {
  process.stderr.write(`hostplane csi: ${msg}\n\n${USAGE}`);
  return 2;
}

export async function main(argv: string[]): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        endpoint: { type: 'string' }, 'node-id': { type: 'string' }, 'data-dir': { type: 'string' },
        'driver-name': { type: 'string' }, 'plugins-registry': { type: 'string' }, 'max-volumes': { type: 'string' },
        'log-level': { type: 'string' }, 'capacity-reserve': { type: 'string' }, 'overprovision-ratio': { type: 'string' }, help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    return usageError((e as Error).message);
  }
  if (values.help) { process.stdout.write(USAGE); return 0; }
  const str = (k: string) => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
  const endpoint = str('endpoint');
  const nodeId = str('node-id');
  const dataDir = str('data-dir');
  if (!endpoint) return usageError('--endpoint is required');
  if (!/^(unix:\/\/\/|unix:\/|\/)/.test(endpoint)) return usageError(`--endpoint ${endpoint}: must be unix:///absolute/path`);
  if (!nodeId) return usageError('--node-id is required');
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(nodeId)) return usageError(`--node-id ${nodeId}: letters, digits, '.', '_' and '-' only`);
  if (!dataDir) return usageError('--data-dir is required');
  if (!isAbsolute(dataDir)) return usageError(`--data-dir ${dataDir}: must be an absolute path`);
  const driverName = str('driver-name') ?? DEFAULT_DRIVER_NAME;
  if (!DRIVER_NAME_RE.test(driverName)) return usageError(`--driver-name ${driverName}: must be a DNS-style name of at most 63 characters`);
  const registry = str('plugins-registry');
  if (registry !== undefined && !isAbsolute(registry)) return usageError(`--plugins-registry ${registry}: must be an absolute path`);
  let maxVolumes = DEFAULT_MAX_VOLUMES;
  if (str('max-volumes') !== undefined) {
    maxVolumes = Number(str('max-volumes'));
    if (!Number.isInteger(maxVolumes) || maxVolumes < 1) return usageError(`--max-volumes ${str('max-volumes')}: must be a positive integer`);
  }
  let capacityReserveBytes: number | undefined;
  const reserve = str('capacity-reserve');
  if (reserve !== undefined) {
    const m = /^(\d+)(Ki|Mi|Gi|Ti)?$/.exec(reserve);
    if (!m) return usageError(`--capacity-reserve ${reserve}: must be a byte count, optionally with Ki, Mi, Gi or Ti`);
    capacityReserveBytes = Number(m[1]) * 1024 ** ['', 'Ki', 'Mi', 'Gi', 'Ti'].indexOf(m[2] ?? '');
  }
  let overprovisionRatio: number | undefined;
  const ratio = str('overprovision-ratio');
  if (ratio !== undefined) {
    overprovisionRatio = Number(ratio);
    if (!/^\d+(\.\d+)?$/.test(ratio) || !(overprovisionRatio >= 1) || overprovisionRatio > 100) return usageError(`--overprovision-ratio ${ratio}: must be a number from 1 to 100`);
  }

  const log = createLogger({ name: 'csi', ...(str('log-level') ? { level: str('log-level')! } : {}) });
  const driver = await startCsiDriver({
    endpoint, nodeId, dataDir, driverName, log, maxVolumes,
    ...(capacityReserveBytes !== undefined ? { capacityReserveBytes } : {}),
    ...(overprovisionRatio !== undefined ? { overprovisionRatio } : {}),
    ...(registry ? { pluginsRegistry: registry } : {}),
  });
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => { log.info({ signal: sig }, 'shutting down'); resolve(); };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  await driver.close();
  return 0;
}
