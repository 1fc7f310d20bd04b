// `hostplane device-plugin`: flags in, startDevicePlugins, and on SIGTERM an
// empty device list first (kubelet stops placing pods on our devices) and
// only then the sockets removed.
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { createLogger } from '../lib/logging.ts';
import { errorMessage } from '../lib/errors.ts';
import { DeviceConfigError } from './config.ts';
import { Fields } from '../lib/fields.ts';
import { startDevicePlugins } from './plugins.ts';
import { DEVICE_PLUGIN_DEFAULTS as DEFAULTS, readDevicePluginOptions } from './options.ts';

const USAGE = `usage: hostplane device-plugin --config FILE [--kubelet-dir DIR] [--plugins-registry DIR] [--cdi-dir DIR] [--sysfs-root DIR]

  --config FILE            resources to advertise (YAML or JSON); reloaded when it changes
  --kubelet-dir DIR        kubelet device-plugins dir (default ${DEFAULTS.kubeletDir})
  --plugins-registry DIR   plugin-watcher dir, used only if it exists (default ${DEFAULTS.pluginsRegistry})
  --cdi-dir DIR            where CDI specs are written (default ${DEFAULTS.cdiDir})
  --sysfs-root DIR         sysfs mount (default ${DEFAULTS.sysfsRoot})
`;

export async function main(argv: string[]): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string' },
        'kubelet-dir': { type: 'string' },
        'plugins-registry': { type: 'string' },
        'cdi-dir': { type: 'string' },
        'sysfs-root': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (e) {
    process.stderr.write(`hostplane device-plugin: ${errorMessage(e)}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (typeof values.config !== 'string') {
    process.stderr.write(`hostplane device-plugin: --config is required\n\n${USAGE}`);
    return 2;
  }
  // Flags become the mapping the agent's `devicePlugin:` section is, read by
  // the same validator; problems name the flag.
  const flags: Record<string, string> = {
    configPath: 'config',
    kubeletDir: 'kubelet-dir',
    pluginsRegistry: 'plugins-registry',
    cdiDir: 'cdi-dir',
    sysfsRoot: 'sysfs-root',
  };
  const f = new Fields(
    // Paths on a command line are relative to the working directory.
    Object.fromEntries(Object.entries(flags).map(([key, flag]) => [key, typeof values[flag] === 'string' ? resolve(values[flag]) : undefined])),
    '',
    [],
    (key) => `--${flags[key] ?? key}`,
  );
  const options = readDevicePluginOptions(f);
  if (f.problems.length) {
    process.stderr.write(`hostplane device-plugin: ${f.problems.join('\n  ')}\n\n${USAGE}`);
    return 2;
  }

  const log = createLogger({ name: 'hostplane-device-plugin' });
  // Signal handlers go in before anything is served: kubelet dials back
  // inside Register, so a SIGTERM can land while start-up is still running,
  // and the default action would kill us without the empty list.
  let signalled: string | undefined;
  let onSignal: (sig: string) => void = (sig) => {
    signalled ??= sig;
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  let plugins: Awaited<ReturnType<typeof startDevicePlugins>>;
  try {
    plugins = await startDevicePlugins({ ...options, log });
  } catch (e) {
    process.stderr.write(`hostplane device-plugin: ${e instanceof DeviceConfigError ? e.message : errorMessage(e)}\n`);
    return e instanceof DeviceConfigError ? 2 : 1;
  }
  const p = plugins;
  return new Promise<number>((resolveExit) => {
    let stopping = false;
    const stop = (sig: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal: sig }, 'stopping: draining devices');
      p.drain()
        // Give kubelet a moment to read the empty list before the stream closes.
        .then(() => new Promise((r) => setTimeout(r, 100)))
        .then(() => p.close())
        .then(
          () => resolveExit(0),
          (e: unknown) => {
            log.error({ err: errorMessage(e) }, 'shutdown failed');
            resolveExit(1);
          },
        );
    };
    onSignal = stop;
    if (signalled) stop(signalled);
  });
}
