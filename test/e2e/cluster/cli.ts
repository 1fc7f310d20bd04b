// By hand: node test/e2e/cluster/cli.ts start|stop|leftovers
// (start leaves the node running; KUBECONFIG=/var/lib/hostplane-e2e/pki/admin.kubeconfig)
import { startCluster, stopCluster } from './cluster.ts';
import { leftovers } from './host.ts';
import { install } from './install.ts';

const cmd = process.argv[2];
if (cmd === 'start') {
  try {
    const t = await startCluster();
    process.stdout.write(`${JSON.stringify(t)}\n`);
    if (process.argv[3] === '--install') process.stdout.write(`installed in ${await install()} ms\n`);
  } catch (e) {
    process.stderr.write(`${(e as Error).stack}\n`);
    process.exitCode = 1;
  }
} else if (cmd === 'stop') {
  stopCluster();
  process.stdout.write(`left: ${JSON.stringify(leftovers())}\n`);
} else if (cmd === 'leftovers') {
  process.stdout.write(`${JSON.stringify(leftovers())}\n`);
} else {
  process.stderr.write('usage: cli.ts start [--install] | stop | leftovers\n');
  process.exitCode = 2;
}
