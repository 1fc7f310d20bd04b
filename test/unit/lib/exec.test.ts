import { describe, it, expect } from 'vitest';
import { RealExec, ExecError, inNetns } from '../../../lib/exec.ts';
import { FakeExec } from '../../support/fake-exec.ts';

describe('RealExec', () => {
  const exec = new RealExec();

  it('passes arguments as an array, never through a shell', async () => {
    const r = await exec.run('printf', ['%s|', 'a b', '$(id)', ';rm']);
    expect(r.stdout).toBe('a b|$(id)|;rm|');
  });

  it('feeds input on stdin', async () => {
    expect((await exec.run('cat', [], { input: 'hello' })).stdout).toBe('hello');
  });

  it('throws ExecError with the exit code and stderr on failure', async () => {
    await expect(exec.run('sh', ['-c', 'echo bad >&2; exit 3'])).rejects.toMatchObject({ exitCode: 3, stderr: 'bad\n' });
  });

  it('returns the failure as a result when allowFail is set', async () => {
    expect((await exec.run('false', [], { allowFail: true })).exitCode).toBe(1);
  });

  it('reports a missing tool as an ExecError, not a crash', async () => {
    await expect(exec.run('no-such-tool-hostplane', [])).rejects.toBeInstanceOf(ExecError);
  });
});

describe('inNetns', () => {
  it('wraps the command with nsenter for an arbitrary netns path', () => {
    expect(inNetns('/proc/1/ns/net', 'ip', ['link'])).toEqual(['nsenter', ['--net=/proc/1/ns/net', '--', 'ip', 'link']]);
  });
});

describe('FakeExec', () => {
  it('records calls and answers from the handler', async () => {
    const f = new FakeExec((c) => (c.file === 'ip' ? { stdout: '[]' } : { exitCode: 2, stderr: 'nope' }));
    expect((await f.run('ip', ['-json', 'link'])).stdout).toBe('[]');
    await expect(f.run('nft', ['list'])).rejects.toBeInstanceOf(ExecError);
    expect(f.calls.map((c) => c.file)).toEqual(['ip', 'nft']);
  });
});
