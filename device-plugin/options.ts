// The device plugin's options: their type, defaults and the one validator
// that both `hostplane device-plugin` (flags) and the agent (its
// `devicePlugin:` config section) use. The resources themselves are
// validated by device-plugin/config.ts.
import type { Fields } from '../lib/fields.ts';
import { errorMessage } from '../lib/errors.ts';
import { validateConfig, type DeviceResourcesConfig } from './config.ts';

export const DEVICE_PLUGIN_DEFAULTS = {
  kubeletDir: '/var/lib/kubelet/device-plugins',
  pluginsRegistry: '/var/lib/kubelet/plugins_registry',
  cdiDir: '/var/run/cdi',
  sysfsRoot: '/sys',
} as const;

export interface DevicePluginOptions {
  /** The resources file (YAML/JSON), reloaded when it changes. Exactly one of configPath and config. */
  configPath?: string;
  /** The resources, inline. */
  config?: DeviceResourcesConfig;
  /** kubelet's device-plugins dir (kubelet.sock and our sockets). @default '/var/lib/kubelet/device-plugins' */
  kubeletDir: string;
  /** kubelet's plugin-watcher dir, used only if it exists. @default '/var/lib/kubelet/plugins_registry' */
  pluginsRegistry: string;
  /** Where CDI specs are written. @default '/var/run/cdi' */
  cdiDir: string;
  /** The sysfs mount PCI/USB discovery reads. @default '/sys' */
  sysfsRoot: string;
}

export const DEVICE_PLUGIN_OPTION_KEYS = ['configPath', 'config', 'kubeletDir', 'pluginsRegistry', 'cdiDir', 'sysfsRoot'] as const;

/**
 * Read and validate the options; problems are collected in `f`. `requireResources`:
 * whether one of configPath/config must be given (not when the caller has the plugin disabled).
 */
export function readDevicePluginOptions(f: Fields, requireResources = true): DevicePluginOptions {
  const opts: DevicePluginOptions = {
    kubeletDir: f.path('kubeletDir', DEVICE_PLUGIN_DEFAULTS.kubeletDir),
    pluginsRegistry: f.path('pluginsRegistry', DEVICE_PLUGIN_DEFAULTS.pluginsRegistry),
    cdiDir: f.path('cdiDir', DEVICE_PLUGIN_DEFAULTS.cdiDir),
    sysfsRoot: f.path('sysfsRoot', DEVICE_PLUGIN_DEFAULTS.sysfsRoot),
  };
  const configPath = f.optionalPath('configPath');
  if (configPath !== undefined) opts.configPath = configPath;
  const raw = f.raw('config');
  if (raw !== undefined) {
    try {
      opts.config = validateConfig(raw);
    } catch (e) {
      f.problemAt('config', errorMessage(e));
    }
    if (configPath !== undefined) f.problemAt('config', 'and configPath are both set; give one');
  } else if (configPath === undefined && requireResources) {
    f.problemAt('config', 'is required (the resources to advertise), or give configPath');
  }
  return opts;
}
