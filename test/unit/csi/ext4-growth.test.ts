// ext4 growth, both branches, through the Filesystems seam. The kernel grows a
// mounted ext4 only for a caller with CAP_SYS_RESOURCE (EXT4_IOC_RESIZE_FS);
// root on the development VMs lacks it, so the "with" branch cannot run for
// real there (test/integration/csi/ext4-growth.test.ts runs it where it can).
// Here a fake Filesystems plays the kernel's two answers and the test checks
// what the driver does with each: grow online and forget the pending growth,
// or answer FAILED_PRECONDITION, keep it pending and grow offline (fsck +
// resize2fs, before the mount) at the next NodeStageVolume.
import { describe, it, expect, afterEach } from 'vitest';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fakeContext, FakeFs, type FakeMounts } from '../../support/csi-fakes.ts';
import { createVolume } from '../../../csi/controller/create-volume.ts';
import { controllerExpandVolume } from '../../../csi/controller/expand.ts';
import { nodeStageVolume, nodeUnstageVolume } from '../../../csi/node/stage.ts';
import { nodeExpandVolume } from '../../../csi/node/expand.ts';
import { ExecError } from '../../../lib/exec.ts';
import { GrpcError, status } from '../../../lib/grpc/status-error.ts';
import type { FsType } from '../../../csi/volumes/filesystem.ts';

/** A kernel that either allows online ext4 growth or refuses it as it does without CAP_SYS_RESOURCE. */
class KernelFs extends FakeFs {
  calls: string[] = [];
  made = false;
  private readonly capSysResource: boolean;
  constructor(mounts: FakeMounts, capSysResource: boolean) {
    super(mounts);
    this.capSysResource = capSysResource;
  }
  // The filesystem lives in the image, whichever loop device shows it.
  override async detect() {
    return this.made ? 'ext4' : undefined;
  }
  override async make(device: string, fsType: FsType) {
    this.made = true;
    this.calls.push(`make ${fsType}`);
    await super.make(device, fsType);
  }
  override async mount(source: string, target: string, opts: { fsType?: string; bind?: boolean }) {
    this.calls.push('mount');
    await super.mount(source, target, opts);
  }
  override async grow(...args: unknown[]) {
    this.calls.push(`grow ${String(args[2])}`);
    // resize2fs's words when EXT4_IOC_RESIZE_FS answers EPERM.
    if (!this.capSysResource) throw new ExecError('resize2fs', ['/dev/loop0'], 1, 'resize2fs: Permission denied to resize filesystem');
  }
  override async growOffline() {
    this.calls.push('growOffline');
  }
}

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function grownWhileMounted(capSysResource: boolean) {
  dir = mkdtempSync('/tmp/hp-csi-unit-');
  for (const d of ['images', 'snapshots']) mkdirSync(join(dir, d));
  const f = fakeContext(dir);
  const fs = new KernelFs(f.mounts, capSysResource);
  f.ctx.fs = fs;
  const cap = { access_type: 'mount' as const, mount: { fs_type: 'ext4' }, access_mode: { mode: 'SINGLE_NODE_WRITER' as const } };
  const { volume } = await createVolume(f.ctx, { name: 'v', volume_capabilities: [cap], capacity_range: { required_bytes: 8 << 20 } });
  const id = volume.volume_id;
  const staging = join(dir, 'stage');
  await nodeStageVolume(f.ctx, { volume_id: id, staging_target_path: staging, volume_capability: cap });
  const r = await controllerExpandVolume(f.ctx, { volume_id: id, capacity_range: { required_bytes: 32 << 20 } });
  expect(r).toEqual({ capacity_bytes: 32 << 20, node_expansion_required: true });
  expect(f.store.volume(id)?.fsGrowPending).toBe(true);
  fs.calls = [];
  const expand = nodeExpandVolume(f.ctx, { volume_id: id, volume_path: staging });
  return { f, fs, id, staging, cap, expand };
}

describe('ext4 growth of a mounted volume (kernel simulated through the Filesystems seam)', () => {
  it("with CAP_SYS_RESOURCE (simulated: this VM's root lacks it): NodeExpand grows it online and nothing stays pending", async () => {
    const { f, fs, id, staging, cap, expand } = await grownWhileMounted(true);
    expect(await expand).toEqual({ capacity_bytes: 32 << 20 });
    expect(fs.calls).toEqual(['grow ext4']);
    expect(f.store.volume(id)?.fsGrowPending).toBeUndefined();
    // The next Stage has nothing left to grow.
    await nodeUnstageVolume(f.ctx, { volume_id: id, staging_target_path: staging });
    fs.calls = [];
    await nodeStageVolume(f.ctx, { volume_id: id, staging_target_path: staging, volume_capability: cap });
    expect(fs.calls).toEqual(['mount']);
  });

  it('without CAP_SYS_RESOURCE: NodeExpand → FAILED_PRECONDITION naming it, growth stays pending, the next Stage grows offline before mounting', async () => {
    const { f, fs, id, staging, cap, expand } = await grownWhileMounted(false);
    const e = await expand.then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(GrpcError);
    expect((e as GrpcError).code).toBe(status.FAILED_PRECONDITION);
    expect((e as GrpcError).message).toMatch(/CAP_SYS_RESOURCE/);
    expect(f.store.volume(id)?.fsGrowPending).toBe(true);
    await nodeUnstageVolume(f.ctx, { volume_id: id, staging_target_path: staging });
    fs.calls = [];
    await nodeStageVolume(f.ctx, { volume_id: id, staging_target_path: staging, volume_capability: cap });
    expect(fs.calls).toEqual(['growOffline', 'mount']);
    expect(f.store.volume(id)?.fsGrowPending).toBeUndefined();
  });
});
