import { defineConfig } from 'vitest/config';

// `node_modules/.bin/vitest` starts with `#!/usr/bin/env node`: run it bare and
// the machine's end-of-life Node 20 picks it up. Refuse, rather than fail oddly.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  throw new Error(`vitest is running on Node ${process.versions.node}; run it on the pinned Node 24: npm test, npx vitest, or PATH=$PWD/node_modules/.bin:$PATH vitest`);
}

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The real-node suite has its own config (test/e2e/vitest.config.ts): npm run e2e.
    exclude: ['test/e2e/**', 'node_modules/**'],
    // Integration tests share one kernel and two cores: a few files at a time.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
