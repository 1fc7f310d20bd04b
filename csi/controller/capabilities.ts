// ControllerGetCapabilities and ValidateVolumeCapabilities. Everything we
// advertise is implemented: csi-sanity (and the CO) skip what is not listed.
// GetSnapshot is implemented but GET_SNAPSHOT is not advertised: csi-sanity
// v5.4.0 predates it and fails on a capability it does not know.
import type { CsiContext } from '../context.ts';
import { getVolume } from '../context.ts';
import { checkId, parseCapabilities, unsupportedReason } from '../validate.ts';
import { checkMutableParameters, checkParameters } from '../parameters.ts';
import type { VolumeCapability } from '../types.ts';

export const CONTROLLER_CAPABILITIES = [
  'CREATE_DELETE_VOLUME',
  'PUBLISH_UNPUBLISH_VOLUME',
  'PUBLISH_READONLY',
  'CREATE_DELETE_SNAPSHOT',
  'LIST_SNAPSHOTS',
  'CLONE_VOLUME',
  'EXPAND_VOLUME',
  'LIST_VOLUMES',
  'LIST_VOLUMES_PUBLISHED_NODES',
  'GET_CAPACITY',
  'GET_VOLUME',
  'VOLUME_CONDITION',
  'SINGLE_NODE_MULTI_WRITER',
  'MODIFY_VOLUME',
] as const;

export function controllerGetCapabilities() {
  return { capabilities: CONTROLLER_CAPABILITIES.map((type) => ({ rpc: { type } })) };
}

export async function validateVolumeCapabilities(
  ctx: CsiContext,
  req: {
    volume_id?: string;
    volume_capabilities?: VolumeCapability[];
    volume_context?: Record<string, string>;
    parameters?: Record<string, string>;
    mutable_parameters?: Record<string, string>;
  },
) {
  const id = checkId(req.volume_id, 'volume_id');
  const caps = parseCapabilities(req.volume_capabilities);
  const v = getVolume(ctx, id);
  const problems = caps.map(unsupportedReason).filter((x): x is string => !!x);
  try {
    checkParameters(req.parameters);
    checkMutableParameters(req.mutable_parameters);
  } catch (e) {
    problems.push((e as Error).message);
  }
  if (problems.length) return { confirmed: null, message: problems.join('; ') };
  return {
    confirmed: {
      volume_context: req.volume_context ?? {},
      volume_capabilities: req.volume_capabilities,
      parameters: req.parameters ?? {},
      mutable_parameters: { ...v.mutableParameters, ...(req.mutable_parameters ?? {}) },
    },
    message: '',
  };
}
