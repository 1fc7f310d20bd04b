// startCsiDriver: the whole driver as a library call, used by `hostplane csi`
// (csi/main.ts) and embedded by the agent. Order matters: load state,
// reconcile the host against it, then serve; kubelet registration last, so
// kubelet never calls a driver that is not ready.
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Logger } from '../lib/logging.ts';
import type { CallObserver } from '../lib/grpc/handler.ts';
import { RealExec, type HostExec } from '../lib/exec.ts';
import { serveUnix, socketPathFromEndpoint, type UnixServer } from '../lib/grpc/unix-server.ts';
import { servePluginRegistration } from '../lib/grpc/plugin-registration.ts';
import { FileStore } from './state/store.ts';
import { dataDirs, stateDir } from './state/layout.ts';
import { KeyedMutex } from './state/keyed-mutex.ts';
import { RealLoopDevices } from './volumes/loop.ts';
import { RealFilesystems } from './volumes/filesystem.ts';
import { ProcMountTable } from './volumes/mounts.ts';
import { ReflinkCopier } from './volumes/snapshot.ts';
import { allocatedBytes } from './volumes/image.ts';
import { DEFAULT_DRIVER_NAME, imagePath, snapshotPath, type CsiContext } from './context.ts';
import { reconcile } from './reconcile.ts';
import { registerCsi } from './services.ts';

export interface CsiDriverOptions {
  endpoint: string;
  nodeId: string;
  dataDir: string;
  driverName?: string;
  log: Logger;
  observe?: CallObserver;
  /** If set, serve kubelet's pluginregistration API in this directory. */
  pluginsRegistry?: string;
  maxVolumes?: number;
  /** Seam for tests; the real host otherwise. */
  exec?: HostExec;
}

export interface CsiDriver {
  close(): Promise<void>;
  stats(): Promise<{ volumes: number; bytes: number }>;
}

export const DEFAULT_MAX_VOLUMES = 256;

export async function startCsiDriver(opts: CsiDriverOptions): Promise<CsiDriver> {
  const dataDir = resolve(opts.dataDir);
  const socketPath = socketPathFromEndpoint(opts.endpoint);
  for (const d of dataDirs(dataDir)) await mkdir(d, { recursive: true, mode: 0o700 });
  const exec = opts.exec ?? new RealExec();
  const log = opts.log;
  const ctx: CsiContext = {
    driverName: opts.driverName ?? DEFAULT_DRIVER_NAME,
    nodeId: opts.nodeId,
    dataDir,
    maxVolumes: opts.maxVolumes ?? DEFAULT_MAX_VOLUMES,
    log,
    store: await FileStore.open(stateDir(dataDir), log),
    lock: new KeyedMutex(),
    loops: new RealLoopDevices(exec),
    fs: new RealFilesystems(exec),
    mounts: new ProcMountTable(),
    copier: new ReflinkCopier(exec),
    exec,
  };
  const report = await reconcile(ctx);
  log.info({ ...report, volumes: ctx.store.volumes().length, snapshots: ctx.store.snapshots().length }, 'state reconciled');

  let ready = false;
  const server: UnixServer = await serveUnix(socketPath, (s) => registerCsi(s, ctx, { ready: () => ready, ...(opts.observe ? { observe: opts.observe } : {}) }));
  ready = true;
  log.info({ endpoint: socketPath, node: ctx.nodeId, driver: ctx.driverName }, 'CSI driver serving');

  let registration: UnixServer | undefined;
  if (opts.pluginsRegistry) {
    registration = await servePluginRegistration({
      socketPath: join(opts.pluginsRegistry, `${ctx.driverName}-reg.sock`),
      info: { type: 'CSIPlugin', name: ctx.driverName, endpoint: socketPath, supported_versions: ['1.0.0'] },
      log,
      ...(opts.observe ? { observe: opts.observe } : {}),
    });
  }

  return {
    async close() {
      ready = false;
      await registration?.close();
      await server.close();
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
