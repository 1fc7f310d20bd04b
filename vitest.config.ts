import { defineConfig } from 'vitest/config';

// `node_modules/.bin/vitest` starts with `#!/usr/bin/env node`: run it bare and
// the machine's end-of-life Node 20 picks it up. Refuse, rather than fail oddly.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  throw new Error(
    `vitest is running on Node ${process.versions.node}; run it on the pinned Node 24: npm test, npx vitest, or PATH=$PWD/node_modules/.bin:$PATH vitest`,
  );
}

// Integration and conformance suites drive the real kernel (netns, veth,
// loop devices, mounts, nftables) and need root. Without it they are left
// out, and the run says so, so `npm run test:unit` works anywhere in seconds.
const isRoot = process.getuid?.() === 0;
const rootOnly = ['test/integration/**/*.test.ts', 'test/conformance/**/*.test.ts'];
if (!isRoot && !process.env.HOSTPLANE_ROOT_NOTE) {
  process.env.HOSTPLANE_ROOT_NOTE = '1'; // the config is evaluated once per project
  process.stderr.write(
    `[vitest] not root: skipping the root-only suites (${rootOnly.join(', ')}); they need the real kernel (netns, loop devices, mounts, nftables)\n`,
  );
}

export default defineConfig({
  test: {
    // Integration tests share one kernel and two cores: a few files at a time.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    passWithNoTests: !isRoot,
    reporters: ['default', './test/support/summary-reporter.ts'],
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      {
        extends: true,
        test: {
          name: 'integration',
          include: isRoot ? rootOnly : [],
          // Tests of the built artifacts (dist/) rebuild them when a source is newer.
          globalSetup: ['./test/support/fresh-dist.ts'],
        },
      },
    ],
  },
});
