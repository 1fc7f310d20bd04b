// Identity service: name, version, capabilities and readiness. Probe answers
// ready only once start-up reconcile has finished.
import type { CsiContext } from './context.ts';
import { VERSION } from '../lib/version.ts';

export function identityHandlers(ctx: CsiContext, ready: () => boolean) {
  return {
    GetPluginInfo: () => ({ name: ctx.driverName, vendor_version: VERSION, manifest: {} }),
    GetPluginCapabilities: () => ({
      capabilities: [
        { service: { type: 'CONTROLLER_SERVICE' } },
        { service: { type: 'VOLUME_ACCESSIBILITY_CONSTRAINTS' } },
        { volume_expansion: { type: 'ONLINE' } },
      ],
    }),
    Probe: () => ({ ready: { value: ready() } }),
  };
}
