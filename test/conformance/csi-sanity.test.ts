// The unmodified csi-sanity v5.4.0 against the BUILT driver (dist/hostplane
// csi), once per access type, with snapshot, clone, expansion and
// ModifyVolume specs enabled by the capabilities we advertise, ControllerPublish
// /Unpublish included. The only specs it may skip are the GroupController
// service's (not offered) and the attach-limit spec, which is opt-in
// (--csi.testnodevolumeattachlimit) and cannot pass here: it creates
// max_volumes_per_node + 1 volumes, and CreateVolume already refuses the
// extra one (a node-local volume counts against the node from creation).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { cleanupHost, loopsUnder, mountsUnder } from '../integration/csi/host.ts';
import { goModuleVersion } from '../support/tool-version.ts';

const root = join(import.meta.dirname, '..', '..');
const bin = join(root, 'dist', 'hostplane');
const SANITY = '/usr/local/bin/csi-sanity';
const INHERENT_SKIPS = [
  /^GroupController Service /,
  /^Controller Service \[Controller Server\] ControllerPublishVolume (\[It\] )?should fail when publishing more volumes than the node max attach limit$/,
];

async function waitForSocket(path: string, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (existsSync(path)) return;
    if (child.exitCode !== null) throw new Error(`driver exited ${child.exitCode}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`driver socket ${path} never appeared`);
}

interface Summary {
  ran: number;
  total: number;
  passed: number;
  failed: number;
  pending: number;
  skipped: number;
  skippedNames: string[];
}

function parse(out: string): Summary {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: strips the ANSI colour escapes (ESC is the point)
  const text = out.replace(/\x1b\[[0-9;]*m/g, '');
  const ran = /Ran (\d+) of (\d+) Specs/.exec(text);
  const counts = /(\d+) Passed \| (\d+) Failed \| (\d+) Pending \| (\d+) Skipped/.exec(text);
  if (!ran || !counts) throw new Error(`no ginkgo summary in csi-sanity output:\n${text.slice(-2000)}`);
  const skippedNames = [...text.matchAll(/^S \[SKIPPED\][^\n]*\n([^\n]+)/gm)].map((m) => m[1]!.trim().replace(/ \[BeforeEach\]/, ''));
  return { ran: +ran[1]!, total: +ran[2]!, passed: +counts[1]!, failed: +counts[2]!, pending: +counts[3]!, skipped: +counts[4]!, skippedNames };
}

describe.each(['mount', 'block'])('csi-sanity v5.4.0, access type %s', (accessType) => {
  let dir: string;
  let driver: ChildProcess;
  let stderr = '';

  beforeAll(async () => {
    if (!existsSync(bin)) execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'ignore' });
    dir = mkdtempSync(`/tmp/hp-csi-sanity-${accessType}-`);
    driver = spawn(bin, ['csi', '--endpoint', `unix://${dir}/csi.sock`, '--node-id', 'sanity-node', '--data-dir', `${dir}/data`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    driver.stderr!.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    await waitForSocket(`${dir}/csi.sock`, driver);
  });

  afterAll(async () => {
    if (driver && driver.exitCode === null) {
      driver.kill('SIGTERM');
      await new Promise((r) => driver.once('exit', r));
    }
    if (dir) cleanupHost(dir);
  });

  it('passes every spec it runs, skipping only GroupController and the opt-in attach-limit spec', async () => {
    writeFileSync(join(dir, 'mutable.yaml'), 'readAheadKB: "256"\n');
    const r = await execa(
      SANITY,
      [
        '--ginkgo.v',
        `--csi.endpoint=${dir}/csi.sock`,
        `--csi.mountdir=${dir}/target`,
        `--csi.stagingdir=${dir}/staging`,
        `--csi.testvolumeaccesstype=${accessType}`,
        `--csi.testvolumesize=${64 * 1024 * 1024}`,
        `--csi.testvolumeexpandsize=${128 * 1024 * 1024}`,
        `--csi.testvolumemutableparameters=${dir}/mutable.yaml`,
      ],
      { reject: false, all: true, timeout: 600_000 },
    );
    const s = parse(r.all ?? '');
    console.log(`csi-sanity ${accessType}: Ran ${s.ran} of ${s.total}, ${s.passed} Passed, ${s.failed} Failed, ${s.skipped} Skipped`);
    if (r.exitCode !== 0 || s.failed) console.error((r.all ?? '').slice(-6000), stderr.slice(-3000));
    expect(r.exitCode).toBe(0);
    expect(s.failed).toBe(0);
    expect(s.ran).toBe(s.passed);
    expect(s.ran).toBeGreaterThanOrEqual(84);
    expect(s.skipped).toBe(7);
    expect(s.skipped).toBe(s.skippedNames.length);
    for (const name of s.skippedNames)
      expect(
        INHERENT_SKIPS.some((re) => re.test(name)),
        `unexpected skip: ${name}`,
      ).toBe(true);
  }, 600_000);

  it('leaves no loop device, mount or image behind', () => {
    expect(loopsUnder(dir)).toEqual([]);
    expect(mountsUnder(dir)).toEqual([]);
    expect(readdirSync(join(dir, 'data', 'images'))).toEqual([]);
    expect(readdirSync(join(dir, 'data', 'snapshots'))).toEqual([]);
  });
});

describe('the tool is the version this suite is written against', () => {
  it("csi-sanity is csi-test v5.4.0 (from the binary's build info, not assumed)", () => {
    expect(goModuleVersion(SANITY, 'github.com/kubernetes-csi/csi-test/v5')).toBe('v5.4.0');
  });
});
