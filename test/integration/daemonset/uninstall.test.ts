// daemonset/uninstall.sh against a recording stand-in for kubectl: the
// DaemonSet goes first, no volume or claim is ever deleted, and the driver's
// API objects stay while volumes still use them.
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { execFileSync } from 'node:child_process';
import { DAEMONSET_DIR } from './manifests.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hp-uninstall-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function run(pvs: string): string[] {
  const fake = join(dir, 'kubectl');
  writeFileSync(fake, `#!/bin/sh\necho "$*" >> '${dir}/calls'\ncase "$1" in get) printf '%s' '${pvs}' ;; esac\n`, { mode: 0o755 });
  execFileSync('bash', [join(DAEMONSET_DIR, 'uninstall.sh')], { env: { ...process.env, KUBECTL: fake }, stdio: 'pipe' });
  return readFileSync(join(dir, 'calls'), 'utf8').trim().split('\n');
}

describe('uninstall.sh', () => {
  it('deletes the DaemonSet first and never deletes volumes or claims', () => {
    const calls = run('');
    expect(calls[0]).toMatch(/^-n hostplane delete daemonset hostplane/);
    for (const c of calls)
      expect(c).not.toMatch(/\b(persistentvolumes?|pv|pvc|persistentvolumeclaims?|volumeattachments?)\b.*delete|delete.*\b(pv|pvc|persistentvolume)/);
  });

  it('removes the CSIDriver and StorageClass when no volume of the driver remains', () => {
    const calls = run('');
    expect(calls).toContain('delete csidriver csi.hostplane.io --ignore-not-found');
    expect(calls).toContain('delete storageclass hostplane --ignore-not-found');
    expect(calls).toContain('delete namespace hostplane --ignore-not-found');
  });

  it('keeps the CSIDriver and StorageClass while volumes of the driver exist', () => {
    const calls = run('pvc-1234\n');
    expect(calls.some((c) => c.includes('csidriver'))).toBe(false);
    expect(calls.some((c) => c.includes('storageclass'))).toBe(false);
  });
});
