// The CSI driver's options: their type, defaults and the one validator that
// both `hostplane csi` (flags) and the agent (its `csi:` config section) use.
import type { Fields, Rule } from '../lib/fields.ts';
import { UNIX_ENDPOINT } from '../lib/endpoint.ts';
import { isSafeName } from '../lib/names.ts';
import { MAX_ID_LENGTH } from './validate.ts';

export const CSI_DRIVER_NAME = 'csi.hostplane.io';

export const CSI_DEFAULTS = {
  endpoint: `unix:///var/lib/kubelet/plugins/${CSI_DRIVER_NAME}/csi.sock`,
  driverName: CSI_DRIVER_NAME,
  dataDir: '/var/lib/hostplane/csi',
  maxVolumes: 256,
  overprovisionRatio: 1,
  spareImages: 2,
} as const;

export interface CsiOptions {
  /** Unix socket the Identity, Controller and Node services listen on. @default `unix:///var/lib/kubelet/plugins/csi.hostplane.io/csi.sock` */
  endpoint: string;
  /** This node's id, also its topology segment (`topology.hostplane.io/node`). */
  nodeId: string;
  /** Where volume images, snapshots and state records live. @default '/var/lib/hostplane/csi' */
  dataDir: string;
  /** The CSI driver name (GetPluginInfo, the CSIDriver object). @default 'csi.hostplane.io' */
  driverName: string;
  /** Volumes this node accepts (NodeGetInfo max_volumes_per_node). @default 256 */
  maxVolumes: number;
  /** kubelet's plugin-watcher directory to register in; unset: no registration. */
  pluginsRegistry?: string;
  /** Disk policy: bytes of the data dir's filesystem never promised to volumes. @default 5% of the filesystem, at most 1 GiB */
  capacityReserveBytes?: number;
  /** Disk policy: promised bytes allowed per byte of pool (volumes/capacity.ts). @default 1 (no overcommit) */
  overprovisionRatio: number;
  /** Pre-formatted images kept for new filesystem volumes, so Stage skips mkfs (volumes/spares.ts); 0: none. @default 2 */
  spareImages: number;
}

// The CSI spec's rule for a driver name: at most 63 characters, alphanumerics
// at both ends, dashes, dots and alphanumerics between.
const DRIVER_NAME: Rule = {
  pattern: /^[a-zA-Z0-9]([a-zA-Z0-9.-]{0,61}[a-zA-Z0-9])?$/,
  what: 'a CSI driver name (at most 63 characters: letters, digits, "-" and ".")',
};
const NODE_ID: Rule = { pattern: { test: (s) => isSafeName(s, MAX_ID_LENGTH) }, what: 'a node id (letters, digits, ".", "_" and "-")' };

export const CSI_OPTION_KEYS = [
  'endpoint',
  'nodeId',
  'dataDir',
  'driverName',
  'maxVolumes',
  'pluginsRegistry',
  'capacityReserveBytes',
  'overprovisionRatio',
  'spareImages',
] as const;

/** Read and validate the options; problems are collected in `f` (nothing is thrown). */
export function readCsiOptions(f: Fields, defaults: { nodeId: string; pluginsRegistry?: string }): CsiOptions {
  const opts: CsiOptions = {
    endpoint: f.string('endpoint', CSI_DEFAULTS.endpoint, UNIX_ENDPOINT),
    nodeId: f.string('nodeId', defaults.nodeId, NODE_ID),
    dataDir: f.path('dataDir', CSI_DEFAULTS.dataDir),
    driverName: f.string('driverName', CSI_DEFAULTS.driverName, DRIVER_NAME),
    maxVolumes: f.int('maxVolumes', CSI_DEFAULTS.maxVolumes, 1, 1_000_000),
    overprovisionRatio: f.number('overprovisionRatio', CSI_DEFAULTS.overprovisionRatio, 1, 100),
    spareImages: f.int('spareImages', CSI_DEFAULTS.spareImages, 0, 16),
  };
  const reserve = f.optionalBytes('capacityReserveBytes');
  if (reserve !== undefined) opts.capacityReserveBytes = reserve;
  const registry = f.optionalPath('pluginsRegistry') ?? defaults.pluginsRegistry;
  if (registry !== undefined) opts.pluginsRegistry = registry;
  return opts;
}
