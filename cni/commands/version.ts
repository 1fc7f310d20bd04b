import { SUPPORTED_VERSIONS } from '../result.ts';

/** VERSION answers in the version it was asked in (1.1.0 when not asked). */
export function version(requested: string | undefined): Record<string, unknown> {
  return { cniVersion: requested ?? '1.1.0', supportedVersions: [...SUPPORTED_VERSIONS] };
}
