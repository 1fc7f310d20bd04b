// A small promise-based CSI client over grpc-js, for the integration,
// conformance and bench code (a CO stand-in: dials with authority localhost).
import * as grpc from '@grpc/grpc-js';
import { loadProto, lookup } from '../../../lib/grpc/proto.ts';

type Fn = (req?: object) => Promise<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
export type Service<M extends string = string> = Record<M, Fn> & { close(): void };

type IdentityM = 'GetPluginInfo' | 'GetPluginCapabilities' | 'Probe';
type ControllerM =
  | 'CreateVolume'
  | 'DeleteVolume'
  | 'ControllerPublishVolume'
  | 'ControllerUnpublishVolume'
  | 'ValidateVolumeCapabilities'
  | 'ListVolumes'
  | 'GetCapacity'
  | 'ControllerGetCapabilities'
  | 'CreateSnapshot'
  | 'DeleteSnapshot'
  | 'ListSnapshots'
  | 'GetSnapshot'
  | 'ControllerExpandVolume'
  | 'ControllerGetVolume'
  | 'ControllerModifyVolume';
type NodeM =
  | 'NodeStageVolume'
  | 'NodeUnstageVolume'
  | 'NodePublishVolume'
  | 'NodeUnpublishVolume'
  | 'NodeGetVolumeStats'
  | 'NodeExpandVolume'
  | 'NodeGetCapabilities'
  | 'NodeGetInfo';

function wrap<M extends string>(ctor: grpc.ServiceClientConstructor, socket: string): Service<M> {
  const c = new ctor(`unix://${socket}`, grpc.credentials.createInsecure(), { 'grpc.default_authority': 'localhost' }) as unknown as grpc.Client &
    Record<string, Function>;
  const out: Record<string, unknown> = { close: () => c.close() };
  for (const m of Object.keys(ctor.service)) {
    out[m] = (req: object = {}) =>
      new Promise((resolve, reject) => c[m]!.call(c, req, { deadline: Date.now() + 120_000 }, (e: Error | null, r: unknown) => (e ? reject(e) : resolve(r))));
  }
  return out as Service<M>;
}

export interface CsiClient {
  identity: Service<IdentityM>;
  controller: Service<ControllerM>;
  node: Service<NodeM>;
  close(): void;
}

export function csiClient(socket: string): CsiClient {
  const pkg = loadProto('csi.proto');
  const identity = wrap<IdentityM>(lookup(pkg, 'csi.v1.Identity'), socket);
  const controller = wrap<ControllerM>(lookup(pkg, 'csi.v1.Controller'), socket);
  const node = wrap<NodeM>(lookup(pkg, 'csi.v1.Node'), socket);
  return {
    identity,
    controller,
    node,
    close: () => {
      identity.close();
      controller.close();
      node.close();
    },
  };
}

/** The gRPC status code a failed call carried (undefined if it succeeded). */
export async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    return grpc.status[(e as grpc.ServiceError).code];
  }
}

export const mountCap = (fsType = 'ext4', mode = 'SINGLE_NODE_WRITER', flags: string[] = []) => ({
  mount: { fs_type: fsType, mount_flags: flags },
  access_mode: { mode },
});
export const blockCap = (mode = 'SINGLE_NODE_WRITER') => ({ block: {}, access_mode: { mode } });

/**
 * DeleteVolume as a CO sends it: retried while the driver answers that a loop
 * device still holds the image. On this shared machine other processes keep
 * creating mount namespaces (runc, ip netns exec, unshare), and one created
 * while a volume was mounted holds a copy of the mount — and the device —
 * until it goes; the driver refuses rather than delete under it, the CO retries.
 */
export async function deleteVolumeRetrying(controller: Service<ControllerM>, volume_id: string, forMs = 60_000): Promise<void> {
  const deadline = Date.now() + forMs;
  for (;;) {
    try {
      await controller.DeleteVolume({ volume_id });
      return;
    } catch (e) {
      if (!/still held by loop device/.test((e as Error).message) || Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}
