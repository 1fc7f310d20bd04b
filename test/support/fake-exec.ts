// Test double for the HostExec seam (lib/exec.ts): records every call and answers from a handler.
import { ExecError, type ExecOptions, type ExecResult, type HostExec } from '../../lib/exec.ts';

export interface RecordedCall {
  file: string;
  args: readonly string[];
  opts: ExecOptions;
}

/** Test double: records every call and answers from a handler. */
export class FakeExec implements HostExec {
  readonly calls: RecordedCall[] = [];
  private readonly handler: (c: RecordedCall) => Partial<ExecResult> | undefined;
  constructor(handler: (c: RecordedCall) => Partial<ExecResult> | undefined = () => undefined) {
    this.handler = handler;
  }
  async run(file: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const call = { file, args, opts };
    this.calls.push(call);
    const r = { stdout: '', stderr: '', exitCode: 0, ...this.handler(call) };
    if (r.exitCode !== 0 && !opts.allowFail) throw new ExecError(file, args, r.exitCode, r.stderr);
    return r;
  }
}
