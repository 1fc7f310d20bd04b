// The CNI binary replaced while ADDs run (an agent upgrade installing a new
// plugin through agent/cni/install.ts): every ADD started before, during or
// after a replacement either succeeds or fails cleanly with CNI error JSON —
// never "text file busy", never a half-written executable — and nothing leaks.
import { execFileSync } from 'node:child_process';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { ensureBuilt, cniEnv, PLUGIN, REF_DIR, Sandbox, runExecutable, type PluginRun } from './helpers.ts';
import { installBinary } from '../../../agent/cni/install.ts';

const sb = new Sandbox('hpu');
const bridge = sb.bridge();
const work = mkdtempSync(join(tmpdir(), 'hp-cni-upgrade-'));
const binDir = join(work, 'bin');
const INSTALLED = join(binDir, 'hostplane');
beforeAll(() => ensureBuilt());
afterAll(() => {
  sb.cleanup();
  rmSync(work, { recursive: true, force: true });
});

const conf = {
  cniVersion: '1.1.0',
  name: `${sb.tag}-net`,
  type: 'hostplane',
  bridge,
  isGateway: true,
  ipam: { type: 'hostplane', subnet: '10.217.0.0/24', dataDir: sb.dataDir },
};
const leases = () => sb.leases(conf.name);

/** Run the INSTALLED binary, as a runtime execs whatever is in its bin dir now. */
function runInstalled(cmd: string, containerId: string, netns: string): Promise<PluginRun> {
  return runExecutable(INSTALLED, [], { ...cniEnv(cmd, { containerId, netns }), CNI_PATH: `${binDir}:${REF_DIR}` }, conf);
}

describe('CNI binary upgrade under load', () => {
  it('ADDs racing repeated installs of a new binary all succeed or fail cleanly; DEL leaves nothing', async () => {
    // Two versions with different bytes: the build, and a tiny ELF that execs
    // it. (Not a shell script: the kernel execs a script's interpreter, which
    // then re-opens the file by name and could read the other version.)
    const v2 = join(work, 'hostplane-v2');
    writeFileSync(`${v2}.c`, `#include <unistd.h>\nint main(int c, char **v) { (void)c; execv(${JSON.stringify(PLUGIN)}, v); return 127; }\n`);
    execFileSync('gcc', ['-static', '-O1', '-o', v2, `${v2}.c`]);
    expect(await installBinary(PLUGIN, binDir, 'hostplane')).toBe('installed');

    const N = 16;
    const runs: Array<Promise<PluginRun>> = [];
    let installs = 0;
    let adding = true;
    const installer = (async () => {
      while (adding) {
        const outcome = await installBinary(installs % 2 === 0 ? v2 : PLUGIN, binDir, 'hostplane');
        expect(outcome).toBe('installed');
        installs++;
      }
    })();
    for (let i = 0; i < N; i++) {
      runs.push(runInstalled('ADD', `${sb.tag}-u${i}`, sb.netns(`u${i}`)));
      await new Promise((r) => setTimeout(r, 25));
    }
    const results = await Promise.all(runs);
    adding = false;
    await installer;
    expect(installs).toBeGreaterThanOrEqual(2);

    for (const [i, r] of results.entries()) {
      if (r.code === 0) {
        expect((r.out!.ips as unknown[]).length, `ADD ${i}`).toBe(1);
      } else {
        // Failing is allowed only the clean way: the spec's error JSON on stdout.
        expect(r.out, `ADD ${i} failed uncleanly (code ${r.code}): ${r.stderr}`).toMatchObject({ code: expect.any(Number), msg: expect.any(String) });
      }
    }
    // With install by rename, no ADD should have failed at all.
    expect(results.map((r) => r.code)).toEqual(Array(N).fill(0));
    expect(leases()).toHaveLength(N);

    const dels = await Promise.all(results.map((_, i) => runInstalled('DEL', `${sb.tag}-u${i}`, `/var/run/netns/${sb.tag}-u${i}`)));
    for (const d of dels) expect(d.code, d.stdout + d.stderr).toBe(0);
    expect(leases()).toEqual([]);
    expect(readdirSync(`/sys/class/net/${bridge}/brif`)).toEqual([]);
  });
});
