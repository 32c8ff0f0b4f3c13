import { defineConfig } from 'vitest/config';

/**
 * Load tests start thousands of operations at once: they run alone, after everything else,
 * so other files cannot starve them (and they cannot starve other files' sentinels).
 */
const LOAD_TESTS = [
  'test/integration/reliability-load.test.ts',
  // 8 child processes × 200 concurrent getOrSet calls, plus a holder killed mid-factory.
  'test/integration/get-or-set-processes.test.ts',
];

/**
 * The ioredis conformance test's second run (.ci/run): ioredis and opossum from a directory
 * where the newest releases were installed, for src as for the tests.
 */
const conformanceDir = process.env.SENTINEL_CACHE_CONFORMANCE_DIR;

export default defineConfig({
  resolve:
    conformanceDir === undefined
      ? {}
      : {
          alias: {
            ioredis: `${conformanceDir}/node_modules/ioredis`,
            opossum: `${conformanceDir}/node_modules/opossum`,
          },
        },
  test: {
    // Integration files each start their own Redis topology; two at a time fits 2 cores
    // without starving sentinels (down-after-milliseconds is 1000 in tests).
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
    reporters: ['default'],
    projects: [
      {
        extends: true,
        test: { name: 'main', include: ['test/**/*.test.ts'], exclude: LOAD_TESTS },
      },
      {
        extends: true,
        test: { name: 'load', include: LOAD_TESTS, sequence: { groupOrder: 1 } },
      },
    ],
  },
});
