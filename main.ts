// Entry point of dist/hostplane: picks the subcommand and hands it the rest
// of argv. Each subcommand owns its flags, stdout and exit code; modules are
// imported lazily so one subcommand never pays for another's start-up.
const USAGE = `usage: hostplane <command> [flags]

commands:
  csi            run the CSI driver (Identity, Controller, Node) on a unix socket
  device-plugin  run the kubelet device plugin
  agent          run the per-node agent (CSI + device plugin + CNI install + metrics)
  version        print the version
`;

type SubMain = (argv: string[]) => Promise<number>;

const commands: Record<string, () => Promise<SubMain>> = {
  csi: async () => (await import('./csi/main.ts')).main,
  'device-plugin': async () => (await import('./device-plugin/main.ts')).main,
  agent: async () => (await import('./agent/main.ts')).main,
};

async function run(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === 'version' || cmd === '--version') {
    process.stdout.write('hostplane 0.1.0\n');
    return 0;
  }
  const load = cmd ? commands[cmd] : undefined;
  if (!load) {
    process.stderr.write((cmd && cmd !== 'help' && cmd !== '--help' ? `unknown command "${cmd}"\n\n` : '') + USAGE);
    return cmd === 'help' || cmd === '--help' ? 0 : 2;
  }
  return (await load())(rest);
}

run(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0 || process.exitCode === undefined) process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`hostplane: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  },
);
