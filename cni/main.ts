// The CNI executable (dist/cni/hostplane, compiled by bun into one binary so a
// container runtime can exec it with no node on PATH). It reads the request
// and, when the agent's CNI socket is there, hands it to the agent and prints
// the answer (the fast path: no runtime start-up of our own beyond this file,
// no exec). Without an agent (or one that does not acknowledge in time) it
// does the work in-process (./standalone.ts, loaded only then). It is the only
// code that writes stdout or sets the exit code. Logs go to stderr (and the
// config's logFile), never stdout.
import { readFileSync, writeSync, appendFileSync } from 'node:fs';
import { exchange, type Outcome } from './agent/client.ts';
import { encodeRequest, DEFAULT_SOCKET } from './agent/protocol.ts';

function readStdin(): Buffer {
  try {
    return readFileSync(0);
  } catch {
    // No stdin at all (closed or a terminal): VERSION needs none, the rest will say what is missing.
    return Buffer.alloc(0);
  }
}

interface Peek {
  cniVersion?: string;
  agentSocket?: string;
  logFile?: string;
}

/** Only what the thin path needs; the full validation happens where the work is done. */
function peek(stdin: Buffer): Peek {
  try {
    const o = JSON.parse(stdin.toString('utf8')) as Record<string, unknown>;
    if (typeof o !== 'object' || o === null) return {};
    const p: Peek = {};
    if (typeof o.cniVersion === 'string') p.cniVersion = o.cniVersion;
    if (typeof o.agentSocket === 'string') p.agentSocket = o.agentSocket;
    if (typeof o.logFile === 'string') p.logFile = o.logFile;
    return p;
  } catch {
    return {};
  }
}

function emit(stdout: unknown, exitCode: number): void {
  if (stdout !== undefined) writeSync(1, `${JSON.stringify(stdout)}\n`);
  process.exitCode = exitCode;
}

function writeLog(lines: readonly string[], logFile: string | undefined): void {
  if (!lines.length) return;
  const text = lines.join('');
  try {
    writeSync(2, text);
  } catch {
    /* stderr closed */
  }
  if (logFile) {
    try {
      appendFileSync(logFile, text, { mode: 0o600 });
    } catch {
      /* an unwritable log file never fails the call */
    }
  }
}

function standalone(stdin: Buffer, why: string | undefined): void {
  void import('./standalone.ts').then((m) => m.runStandalone(process.env, stdin, why)).then((r) => emit(r.stdout, r.exitCode));
}

// No top-level await: bun's --bytecode compile needs a CommonJS-shaped entry.
if (process.argv[2] === 'netns-helper') {
  // The agent's long-lived helper for in-netns work (cni/net/netns-helper.ts), not a CNI call.
  void import('./net/netns-helper.ts').then((m) => m.serve());
} else if (process.argv[2] === 'csi-helper') {
  // The CSI driver's long-lived helper for mount and loop-device syscalls (csi/volumes/helper-serve.ts).
  void import('../csi/volumes/helper-serve.ts').then((m) => m.serve());
} else {
  main();
}

function main(): void {
  const stdin = readStdin();
  const conf = peek(stdin);
  const socket = conf.agentSocket ?? DEFAULT_SOCKET;
  if (process.env.CNI_COMMAND === 'VERSION' || socket === '') {
    standalone(stdin, undefined);
  } else {
    void exchange(socket, encodeRequest(process.env, stdin.toString('utf8'))).then((o: Outcome) => {
      if (o.kind === 'fallback') return standalone(stdin, o.why);
      if (o.kind === 'timeout') {
        writeLog(
          [
            `${JSON.stringify({ level: 50, time: Date.now(), pid: process.pid, name: 'hostplane-cni', msg: `agent acknowledged but did not answer within ${o.ms} ms` })}\n`,
          ],
          conf.logFile,
        );
        return emit(
          {
            cniVersion: conf.cniVersion ?? '1.1.0',
            code: 11,
            msg: `hostplane agent did not answer within ${o.ms} ms`,
            details: 'the request may still complete; retry',
          },
          1,
        );
      }
      writeLog(o.reply.log ?? [], conf.logFile);
      emit(o.reply.stdout, o.reply.exitCode);
    });
  }
}
