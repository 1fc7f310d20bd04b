// `hostplane csi` flag handling: a bad or missing flag is named, exit code 2,
// and nothing is started.
import { describe, it, expect, vi, afterEach } from 'vitest';
import { main } from '../../../csi/main.ts';

afterEach(() => vi.restoreAllMocks());

async function run(argv: string[]): Promise<{ code: number; err: string }> {
  let err = '';
  vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
    err += String(s);
    return true;
  });
  const code = await main(argv);
  return { code, err };
}

const ok = ['--endpoint', 'unix:///tmp/x.sock', '--node-id', 'n1', '--data-dir', '/tmp/d'];

describe('hostplane csi flags', () => {
  it.each([
    [['--node-id', 'n1', '--data-dir', '/tmp/d'], '--endpoint is required'],
    [['--endpoint', 'unix:///tmp/x.sock', '--data-dir', '/tmp/d'], '--node-id is required'],
    [['--endpoint', 'unix:///tmp/x.sock', '--node-id', 'n1'], '--data-dir is required'],
    [['--endpoint', 'tcp://1.2.3.4:5', '--node-id', 'n1', '--data-dir', '/tmp/d'], '--endpoint: must be unix:///absolute/path, got "tcp://1.2.3.4:5"'],
    [['--endpoint', 'unix:///tmp/x.sock', '--node-id', 'n1', '--data-dir', 'relative'], '--data-dir: must be an absolute path, got "relative"'],
    [['--endpoint', 'unix:///tmp/x.sock', '--node-id', 'bad/id', '--data-dir', '/tmp/d'], '--node-id: must be a node id'],
    [[...ok, '--driver-name', 'bad_name!'], '--driver-name: must be a CSI driver name'],
    [[...ok, '--max-volumes', '0'], '--max-volumes: must be an integer between 1 and 1000000, got 0'],
    [[...ok, '--plugins-registry', 'rel'], '--plugins-registry: must be an absolute path, got "rel"'],
    [[...ok, '--max-volumes', 'many'], '--max-volumes: must be an integer between 1 and 1000000, got "many"'],
    [[...ok, '--log-level', 'loud'], '--log-level: must be one of trace, debug, info, warn, error, fatal, silent'],
    [[...ok, '--bogus'], "'--bogus'"],
    [[...ok, '--capacity-reserve', '5%'], '--capacity-reserve: must be a byte count, optionally with Ki, Mi, Gi or Ti, got "5%"'],
    [[...ok, '--capacity-reserve', '12Pi'], '--capacity-reserve: must be a byte count, optionally with Ki, Mi, Gi or Ti, got "12Pi"'],
    [[...ok, '--overprovision-ratio', '0.5'], '--overprovision-ratio: must be a number from 1 to 100, got "0.5"'],
    [[...ok, '--overprovision-ratio', 'lots'], '--overprovision-ratio: must be a number from 1 to 100, got "lots"'],
  ])('%j → exit 2 naming the flag', async (argv, msg) => {
    const r = await run(argv);
    expect(r.code).toBe(2);
    expect(r.err).toContain(msg);
    expect(r.err).toContain('usage: hostplane csi');
  });
});
