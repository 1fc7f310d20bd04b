// hostplane's one version: package.json's. The CSI vendor_version, the image
// tag and the agent's build-info metric all read it from here; the manifests
// (YAML, which cannot import) are held to it by test/integration/daemonset/manifests.test.ts.
import pkg from '../package.json' with { type: 'json' };

export const VERSION: string = pkg.version;
