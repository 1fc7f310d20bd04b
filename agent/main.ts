// `hostplane agent --config FILE`: the dispatcher of the agent subcommand.
// It alone reads argv, handles signals and picks the exit code.
import { createLogger } from '../lib/logging.ts';
import { errorMessage } from '../lib/errors.ts';
import { loadConfig, AgentConfigError } from './config.ts';
import { startAgent } from './agent.ts';
import { realComponents } from './real-components.ts';
import { uninstallRouting } from './routing/uninstall.ts';
import { RealDataplane } from './routing/dataplane.ts';
import { RealExec } from '../lib/exec.ts';

const USAGE =
  'usage: hostplane agent --config FILE\n       hostplane agent --uninstall-routing   (on a drained node: remove routes, VXLAN devices and the masquerade table)\n';

function configArg(argv: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--config' || a === '-c') return argv[i + 1];
    if (a.startsWith('--config=')) return a.slice('--config='.length);
  }
  return undefined;
}

export async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (argv.includes('--uninstall-routing')) {
    const r = await uninstallRouting(new RealDataplane(new RealExec()));
    for (const e of r.errors) process.stderr.write(`hostplane agent: ${e}\n`);
    process.stdout.write(`removed ${r.removed} routing entries and the masquerade table\n`);
    return r.errors.length ? 1 : 0;
  }
  const file = configArg(argv);
  if (!file) {
    process.stderr.write(`hostplane agent: --config is required\n${USAGE}`);
    return 2;
  }
  let cfg: Awaited<ReturnType<typeof loadConfig>>;
  try {
    cfg = await loadConfig(file);
  } catch (e) {
    process.stderr.write(`hostplane agent: ${errorMessage(e)}\n`);
    return e instanceof AgentConfigError ? 2 : 1;
  }
  const log = createLogger({ name: 'hostplane-agent', level: cfg.logLevel });
  let agent: Awaited<ReturnType<typeof startAgent>>;
  try {
    agent = await startAgent(cfg, { log, components: realComponents });
  } catch (e) {
    log.fatal({ err: errorMessage(e) }, 'agent failed to start');
    return 1;
  }
  const signal: NodeJS.Signals = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  log.info({ signal }, 'shutting down');
  // A stuck component must not keep the pod Terminating past its grace period:
  // after shutdownGraceSeconds the process exits anyway (nothing on the host
  // depends on a clean stop; volumes and CNI files are never removed).
  let timer: NodeJS.Timeout | undefined;
  const timedOut = await Promise.race([
    agent.stop().then(() => false),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), cfg.shutdownGraceSeconds * 1000 + 1000);
    }),
  ]);
  clearTimeout(timer);
  if (timedOut) log.warn({ graceSeconds: cfg.shutdownGraceSeconds }, 'shutdown did not finish in time; exiting');
  return 0;
}
