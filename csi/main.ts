// `hostplane csi`: flags in, startCsiDriver out. The only place in the CSI
// driver that reads argv, writes to stdout/stderr outside the logger or
// decides the exit code.
import { parseArgs } from 'node:util';
import { createLogger } from '../lib/logging.ts';
import { Fields } from '../lib/fields.ts';
import { LOG_LEVELS } from '../lib/log-levels.ts';
import { startCsiDriver } from './driver.ts';
import { CSI_DEFAULTS, readCsiOptions } from './options.ts';

const USAGE = `usage: hostplane csi --endpoint unix:///abs/path.sock --node-id NAME --data-dir DIR [flags]

  --endpoint URL           unix socket the CSI services listen on (required)
  --node-id NAME           this node's id, also its topology segment (required)
  --data-dir DIR           where volume images, snapshots and state live (required, absolute)
  --driver-name NAME       CSI driver name (default ${CSI_DEFAULTS.driverName})
  --plugins-registry DIR   also register with kubelet's plugin watcher in DIR
  --max-volumes N          volumes this node accepts (default ${CSI_DEFAULTS.maxVolumes})
  --capacity-reserve SIZE  bytes of the data dir's filesystem never promised to volumes
                           (bytes, or with Ki/Mi/Gi/Ti; default 5% of the filesystem, at most 1Gi)
  --overprovision-ratio R  promised bytes allowed per byte of disk (default ${CSI_DEFAULTS.overprovisionRatio}: no overcommit)
  --spare-images N         pre-formatted images kept so Stage skips mkfs (default ${CSI_DEFAULTS.spareImages}; 0: none)
  --log-level LEVEL        pino level (default info)
`;

function usageError(msg: string): number {
  process.stderr.write(`hostplane csi: ${msg}\n\n${USAGE}`);
  return 2;
}

// Option keys as the flags a user typed (camelCase → kebab-case, one exception).
const FLAG_NAMES: Record<string, string> = { capacityReserveBytes: 'capacity-reserve' };
const flagOf = (key: string) => `--${FLAG_NAMES[key] ?? key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

export async function main(argv: string[]): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        endpoint: { type: 'string' },
        'node-id': { type: 'string' },
        'data-dir': { type: 'string' },
        'driver-name': { type: 'string' },
        'plugins-registry': { type: 'string' },
        'max-volumes': { type: 'string' },
        'log-level': { type: 'string' },
        'capacity-reserve': { type: 'string' },
        'overprovision-ratio': { type: 'string' },
        'spare-images': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    return usageError((e as Error).message);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  for (const required of ['endpoint', 'node-id', 'data-dir']) {
    if (typeof values[required] !== 'string') return usageError(`--${required} is required`);
  }
  // Flags become the same mapping the agent's `csi:` section is, read by the
  // same validator; problems name the flag.
  const maxVolumes = values['max-volumes'];
  const spareImages = values['spare-images'];
  const doc = {
    endpoint: values.endpoint,
    nodeId: values['node-id'],
    dataDir: values['data-dir'],
    driverName: values['driver-name'],
    pluginsRegistry: values['plugins-registry'],
    maxVolumes: typeof maxVolumes === 'string' && /^-?\d+$/.test(maxVolumes) ? Number(maxVolumes) : maxVolumes,
    capacityReserveBytes: values['capacity-reserve'],
    overprovisionRatio: values['overprovision-ratio'],
    spareImages: typeof spareImages === 'string' && /^-?\d+$/.test(spareImages) ? Number(spareImages) : spareImages,
    logLevel: values['log-level'],
  };
  const f = new Fields(doc, '', [], flagOf);
  const opts = readCsiOptions(f, { nodeId: '' });
  const logLevel = f.oneOf('logLevel', LOG_LEVELS, 'info');
  if (f.problems.length) return usageError(f.problems.join('\n  '));

  const log = createLogger({ name: 'hostplane-csi', level: logLevel });
  const driver = await startCsiDriver({ ...opts, log });
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      log.info({ signal: sig }, 'shutting down');
      resolve();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  await driver.close();
  return 0;
}
