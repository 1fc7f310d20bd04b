// The CNI executable (dist/cni/hostplane, compiled by bun into one binary so a
// container runtime can exec it with no node on PATH). It reads the request,
// hands it to the dispatcher, and is the only code that writes stdout or sets
// the exit code. Logs go to stderr (and the config's logFile), never stdout.
import { readFileSync, writeSync } from 'node:fs';
import { dispatch } from './dispatch.ts';
import { SpawnExec } from './spawn-exec.ts';
import { RealHostView } from './net/host-view.ts';

function readStdin(): Buffer {
  try {
    return readFileSync(0);
  } catch {
    // No stdin at all (closed or a terminal): VERSION needs none, the rest will say what is missing.
    return Buffer.alloc(0);
  }
}

// No top-level await: bun's --bytecode compile needs a CommonJS-shaped entry.
void dispatch(process.env, readStdin(), () => ({ exec: new SpawnExec(), view: new RealHostView(), env: process.env })).then((reply) => {
  if (reply.stdout !== undefined) writeSync(1, JSON.stringify(reply.stdout) + '\n');
  process.exitCode = reply.exitCode;
});
