// startCsiDriver: the whole driver as a library call, used by `hostplane csi`
// (csi/main.ts) and embedded by the agent. Order matters: load state,
// reconcile the host against it, then serve; kubelet registration last, so
// kubelet never calls a driver that is not ready.
import { mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Logger } from '../lib/logging.ts';
import type { CallObserver } from '../lib/grpc/handler.ts';
import { RealExec, type HostExec } from '../lib/exec.ts';
import { serveUnix, socketPathFromEndpoint, type UnixServer } from '../lib/grpc/unix-server.ts';
import { servePluginRegistration } from '../lib/grpc/plugin-registration.ts';
import { keepServing, type KeptSocket } from '../lib/grpc/socket-keeper.ts';
import { FileStore } from './state/store.ts';
import { dataDirs, sparesDir, stateDir } from './state/layout.ts';
import { DEFAULT_SPARES, SparePool } from './volumes/spares.ts';
import { roomForSpare } from './volumes/capacity.ts';
import { KeyedMutex } from './state/keyed-mutex.ts';
import { RealLoopDevices } from './volumes/loop.ts';
import { RealFilesystems } from './volumes/filesystem.ts';
import { CsiHelper, defaultHelperBinary } from './volumes/helper-client.ts';
import { ProcMountTable } from './volumes/mounts.ts';
import { ReflinkCopier } from './volumes/snapshot.ts';
import { allocatedBytes } from './volumes/image.ts';
import { imagePath, snapshotPath, type CsiContext } from './context.ts';
import { CSI_DEFAULTS, type CsiOptions } from './options.ts';
import { reconcile } from './reconcile.ts';
import { registerCsi } from './services.ts';

/** The validated options (csi/options.ts; defaults filled in for any left out) plus the process's seams. */
export type CsiDriverOptions = Pick<CsiOptions, 'endpoint' | 'nodeId' | 'dataDir'> &
  Partial<Pick<CsiOptions, 'driverName' | 'maxVolumes' | 'pluginsRegistry' | 'capacityReserveBytes' | 'overprovisionRatio' | 'spareImages'>> & {
    log: Logger;
    observe?: CallObserver;
    /** Seam for tests; the real host otherwise. */
    exec?: HostExec;
    /**
     * The bun-compiled executable to run as `csi-helper` (mount and loop
     * syscalls instead of util-linux execs: volumes/helper-client.ts);
     * default: dist/cni/hostplane beside the running bundle, if there. false:
     * none (every mount and loop change runs the tools).
     */
    helperBinary?: string | false;
  };

export interface CsiDriver {
  close(): Promise<void>;
  stats(): Promise<{ volumes: number; bytes: number }>;
}

export async function startCsiDriver(opts: CsiDriverOptions): Promise<CsiDriver> {
  const dataDir = resolve(opts.dataDir);
  const socketPath = socketPathFromEndpoint(opts.endpoint);
  for (const d of dataDirs(dataDir)) await mkdir(d, { recursive: true, mode: 0o700 });
  const exec = opts.exec ?? new RealExec();
  const log = opts.log;
  const helperBinary = opts.helperBinary === false ? undefined : (opts.helperBinary ?? defaultHelperBinary());
  const helper = helperBinary && !opts.exec ? new CsiHelper({ binary: helperBinary, log }) : undefined;
  const ctx: CsiContext = {
    driverName: opts.driverName ?? CSI_DEFAULTS.driverName,
    nodeId: opts.nodeId,
    dataDir,
    maxVolumes: opts.maxVolumes ?? CSI_DEFAULTS.maxVolumes,
    log,
    store: await FileStore.open(stateDir(dataDir), log),
    lock: new KeyedMutex(),
    loops: new RealLoopDevices(exec, helper),
    fs: new RealFilesystems(exec, helper),
    mounts: new ProcMountTable(),
    copier: new ReflinkCopier(exec),
    exec,
    capacity: {
      ...(opts.capacityReserveBytes !== undefined ? { reserveBytes: opts.capacityReserveBytes } : {}),
      ...(opts.overprovisionRatio !== undefined ? { overprovisionRatio: opts.overprovisionRatio } : {}),
    },
  };
  let ready = false;
  let server: UnixServer | undefined;
  let registration: KeptSocket | undefined;
  try {
    const report = await reconcile(ctx);
    const spareImages = opts.spareImages ?? CSI_DEFAULTS.spareImages;
    if (spareImages > 0) {
      ctx.spares = new SparePool({
        dir: sparesDir(dataDir),
        fs: ctx.fs,
        log,
        policy: { max: spareImages, perKey: Math.min(spareImages, DEFAULT_SPARES.perKey) },
        roomFor: (bytes) => roomForSpare(ctx, bytes),
        idle: () => ctx.lock.busy === 0,
      });
      const { removed } = await ctx.spares.load();
      if (removed.length) log.info({ removed }, 'half-made or surplus spare images removed');
    } else {
      // None wanted: any left by an earlier configuration go.
      await rm(sparesDir(dataDir), { recursive: true, force: true });
    }
    log.info({ ...report, volumes: ctx.store.volumes().length, snapshots: ctx.store.snapshots().length }, 'state reconciled');

    server = await serveUnix(socketPath, (s) => registerCsi(s, ctx, { ready: () => ready, ...(opts.observe ? { observe: opts.observe } : {}) }));
    ready = true;
    log.info({ endpoint: socketPath, node: ctx.nodeId, driver: ctx.driverName }, 'CSI driver serving');

    if (opts.pluginsRegistry) {
      // Kept: served again if kubelet's plugins_registry is deleted and recreated.
      const regPath = join(opts.pluginsRegistry, `${ctx.driverName}-reg.sock`);
      registration = await keepServing(
        regPath,
        () =>
          servePluginRegistration({
            socketPath: regPath,
            info: { type: 'CSIPlugin', name: ctx.driverName, endpoint: socketPath, supported_versions: ['1.0.0'] },
            log,
            ...(opts.observe ? { observe: opts.observe } : {}),
          }),
        log,
      );
    }
  } catch (e) {
    // A start cut short (a live socket, a failed reconcile) leaves no helper
    // process, timer or socket behind: the caller may go on, or exit.
    await registration?.close().catch(() => {});
    await server?.close().catch(() => {});
    await ctx.spares?.close();
    helper?.close();
    throw e;
  }
  const served = server;

  return {
    async close() {
      ready = false;
      await registration?.close();
      await served.close();
      await ctx.spares?.close();
      helper?.close();
    },
    async stats() {
      const vols = ctx.store.volumes().filter((v) => v.status === 'ready');
      let bytes = 0;
      for (const v of vols) bytes += await allocatedBytes(imagePath(ctx, v.id));
      for (const s of ctx.store.snapshots()) bytes += await allocatedBytes(snapshotPath(ctx, s.id));
      return { volumes: vols.length, bytes };
    },
  };
}
