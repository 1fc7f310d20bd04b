import { describe, it, expect, afterEach } from 'vitest';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { createCniLogger } from '../../../cni/log.ts';

let dir = '';
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('CNI logger', () => {
  it('writes pino-format JSON lines with bindings, honouring the level', () => {
    const lines: string[] = [];
    const log = createCniLogger({ level: 'info', write: (l) => lines.push(l) }, { cmd: 'ADD' });
    log.debug('hidden');
    log.info({ ms: 3 }, 'done');
    log.child({ ifname: 'eth0' }).error({ err: new Error('boom') }, 'failed');
    expect(lines).toHaveLength(2);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 30, name: 'hostplane-cni', cmd: 'ADD', ms: 3, msg: 'done', pid: process.pid });
    expect(JSON.parse(lines[1]!)).toMatchObject({ level: 50, ifname: 'eth0', err: { type: 'Error', message: 'boom' } });
  });
  it('appends to logFile as well as stderr; an unwritable logFile is ignored', () => {
    dir = mkdtempSync(join(tmpdir(), 'hp-log-'));
    const file = join(dir, 'cni.log');
    createCniLogger({ level: 'warn', file }).warn('to the file');
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ level: 40, msg: 'to the file' });
    expect(() => createCniLogger({ file: join(dir, 'missing', 'x.log') }).info('x')).not.toThrow();
  });
});
