import { defineConfig } from 'vitest/config';
import NameOrder from './cluster/sequencer.ts';

// The real-node e2e suite: one cluster (globalSetup) for every file, files
// one at a time (they share the node), never beside the unit/integration
// suites on two cores (npm test runs it after them).
export default defineConfig({
  test: {
    root: new URL('../..', import.meta.url).pathname,
    include: ['test/e2e/**/*.test.ts'],
    globalSetup: ['test/e2e/cluster/global-setup.ts'],
    pool: 'forks',
    fileParallelism: false,
    maxWorkers: 1,
    sequence: { shuffle: false, sequencer: NameOrder },
    testTimeout: 300_000,
    hookTimeout: 600_000,
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
