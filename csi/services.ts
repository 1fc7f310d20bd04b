// The gRPC boundary: every CSI method, wrapped by lib/grpc/handler.ts (one
// log line per call with method, ids, duration and code; any throw becomes a
// status). Only ids and paths are logged: secrets and mount flags never are.
import type * as grpc from '@grpc/grpc-js';
import { wrapUnary, type CallObserver } from '../lib/grpc/handler.ts';
import { loadProto, lookup } from '../lib/grpc/proto.ts';
import type { CsiContext } from './context.ts';
import { identityHandlers } from './identity.ts';
import { createVolume } from './controller/create-volume.ts';
import { deleteVolume } from './controller/delete-volume.ts';
import { controllerPublishVolume, controllerUnpublishVolume } from './controller/publish.ts';
import { controllerGetVolume, getCapacity, listVolumes } from './controller/list.ts';
import { controllerGetCapabilities, validateVolumeCapabilities } from './controller/capabilities.ts';
import { createSnapshot, deleteSnapshot, getSnapshot, listSnapshots } from './controller/snapshots.ts';
import { controllerExpandVolume } from './controller/expand.ts';
import { controllerModifyVolume } from './controller/modify.ts';
import { nodeStageVolume, nodeUnstageVolume } from './node/stage.ts';
import { nodePublishVolume, nodeUnpublishVolume } from './node/publish.ts';
import { nodeGetVolumeStats } from './node/stats.ts';
import { nodeExpandVolume } from './node/expand.ts';
import { nodeGetCapabilities, nodeGetInfo } from './node/info.ts';

const LOG_FIELDS = ['volume_id', 'node_id', 'name', 'snapshot_id', 'source_volume_id', 'staging_target_path', 'target_path', 'volume_path'] as const;

// Each handler takes its own request type; `never` accepts them all (parameters are contravariant).
type Impl = (req: never) => unknown;

function service(name: string): grpc.ServiceDefinition {
  return lookup<grpc.ServiceClientConstructor>(loadProto('csi.proto'), `csi.v1.${name}`).service;
}

export function registerCsi(server: grpc.Server, ctx: CsiContext, opts: { observe?: CallObserver; ready: () => boolean }): void {
  const wrapOpts = { log: ctx.log, logFields: LOG_FIELDS, ...(opts.observe ? { observe: opts.observe } : {}) };
  const wrapAll = (svc: string, impls: Record<string, Impl>) => {
    const out: grpc.UntypedServiceImplementation = {};
    for (const [m, impl] of Object.entries(impls)) out[m] = wrapUnary(`/csi.v1.${svc}/${m}`, (req: unknown) => impl(req as never) as never, wrapOpts);
    return out;
  };

  server.addService(service('Identity'), wrapAll('Identity', identityHandlers(ctx, opts.ready)));
  server.addService(
    service('Controller'),
    wrapAll('Controller', {
      CreateVolume: (r) => createVolume(ctx, r),
      DeleteVolume: (r) => deleteVolume(ctx, r),
      ControllerPublishVolume: (r) => controllerPublishVolume(ctx, r),
      ControllerUnpublishVolume: (r) => controllerUnpublishVolume(ctx, r),
      ValidateVolumeCapabilities: (r) => validateVolumeCapabilities(ctx, r),
      ListVolumes: (r) => listVolumes(ctx, r),
      GetCapacity: (r) => getCapacity(ctx, r),
      ControllerGetCapabilities: () => controllerGetCapabilities(),
      CreateSnapshot: (r) => createSnapshot(ctx, r),
      DeleteSnapshot: (r) => deleteSnapshot(ctx, r),
      ListSnapshots: (r) => listSnapshots(ctx, r),
      GetSnapshot: (r) => getSnapshot(ctx, r),
      ControllerExpandVolume: (r) => controllerExpandVolume(ctx, r),
      ControllerGetVolume: (r) => controllerGetVolume(ctx, r),
      ControllerModifyVolume: (r) => controllerModifyVolume(ctx, r),
    }),
  );
  server.addService(
    service('Node'),
    wrapAll('Node', {
      NodeStageVolume: (r) => nodeStageVolume(ctx, r),
      NodeUnstageVolume: (r) => nodeUnstageVolume(ctx, r),
      NodePublishVolume: (r) => nodePublishVolume(ctx, r),
      NodeUnpublishVolume: (r) => nodeUnpublishVolume(ctx, r),
      NodeGetVolumeStats: (r) => nodeGetVolumeStats(ctx, r),
      NodeExpandVolume: (r) => nodeExpandVolume(ctx, r),
      NodeGetCapabilities: () => nodeGetCapabilities(),
      NodeGetInfo: () => nodeGetInfo(ctx),
    }),
  );
}
