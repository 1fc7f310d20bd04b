// Assembles the image's root filesystem in a directory: the Debian packages
// unpacked with dpkg-deb -x (no maintainer scripts), the merged-/usr layout
// bookworm uses, the symlinks the scripts would have made (iptables
// alternatives), a loader cache, and the few files a container expects.
import { execa } from 'execa';
import { mkdir, writeFile, readdir, lstat, rm, symlink, cp, chmod } from 'node:fs/promises';
import { join } from 'node:path';

const IPTABLES_TOOLS = ['iptables', 'iptables-save', 'iptables-restore', 'ip6tables', 'ip6tables-save', 'ip6tables-restore'];

async function isRealDir(p: string): Promise<boolean> {
  try {
    const st = await lstat(p);
    return st.isDirectory() && !st.isSymbolicLink();
  } catch {
    return false;
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await lstat(p);
    return true;
  } catch {
    return false;
  }
}

/** /bin, /sbin, /lib, /lib64 become links into /usr, as on a bookworm host. */
async function mergeUsr(root: string): Promise<void> {
  for (const d of ['bin', 'sbin', 'lib', 'lib64']) {
    const top = join(root, d);
    if (await isRealDir(top)) {
      await mkdir(join(root, 'usr', d), { recursive: true });
      await cp(top, join(root, 'usr', d), { recursive: true, force: true, verbatimSymlinks: true });
      await rm(top, { recursive: true, force: true });
    }
    if (!(await exists(top))) await symlink(`usr/${d}`, top);
  }
}

export async function buildRootfs(debs: readonly string[], root: string): Promise<void> {
  await rm(root, { recursive: true, force: true });
  await mkdir(root, { recursive: true });
  for (const deb of debs) await execa('dpkg-deb', ['-x', deb, root]);
  await mergeUsr(root);

  // update-alternatives would point these at the nft backend.
  for (const t of IPTABLES_TOOLS) {
    const link = join(root, 'usr', 'sbin', t);
    if (!(await exists(link)) && (await exists(join(root, 'usr', 'sbin', 'xtables-nft-multi')))) await symlink('xtables-nft-multi', link);
  }
  // dash is /bin/sh on Debian (its postinst makes the link).
  if (!(await exists(join(root, 'usr', 'bin', 'sh')))) await symlink('dash', join(root, 'usr', 'bin', 'sh'));

  const etc = join(root, 'etc');
  await mkdir(etc, { recursive: true });
  await writeFile(join(etc, 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n');
  await writeFile(join(etc, 'group'), 'root:x:0:\nnogroup:x:65534:\n');
  await writeFile(join(etc, 'nsswitch.conf'), 'passwd: files\ngroup: files\nhosts: files dns\n');
  await writeFile(join(etc, 'ld.so.conf'), 'include /etc/ld.so.conf.d/*.conf\n');
  for (const d of ['tmp', 'root', 'run', 'proc', 'sys', 'dev', 'var/lib/hostplane', 'etc/hostplane', 'opt/cni/bin', 'etc/cni/net.d']) {
    if (!(await exists(join(root, d)))) await mkdir(join(root, d), { recursive: true });
  }
  if (!(await exists(join(root, 'var', 'run')))) await symlink('/run', join(root, 'var', 'run'));
  await chmod(join(root, 'tmp'), 0o1777);
  // Documentation and manuals are dead weight in a node agent image.
  for (const d of ['usr/share/doc', 'usr/share/man', 'usr/share/info', 'usr/share/lintian', 'usr/share/locale']) {
    await rm(join(root, d), { recursive: true, force: true });
  }
  await execa('ldconfig', ['-r', root]);
  // ldconfig leaves an auxiliary cache whose content depends on the build host.
  await rm(join(root, 'var', 'cache', 'ldconfig'), { recursive: true, force: true });
}

/** Sorted relative listing (for tests and the Containerfile parity check). */
export async function listTree(root: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of (await readdir(join(root, rel), { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = rel ? `${rel}/${e.name}` : e.name;
    out.push(p);
    if (e.isDirectory()) out.push(...(await listTree(root, p)));
  }
  return out;
}
