import { defineConfig } from 'vitest/config';

// Two projects: unit tests beside the code (no network), and integration/end-to-end tests in
// tests/ against the real broker, registry, MariaDB and Redis (run one file at a time: some stop
// and start shared services).
export default defineConfig({
  test: {
    // Integration files run one at a time: some stop and start shared services.
    fileParallelism: false,
    projects: [
      {
        test: {
          name: 'unit',
          include: [
            '{bench,config,dashboard-api,detection,domain,models,platform,processors,reconciliation,refdata,sinks,simulator,state,topics,schemas,cli,services}/**/*.test.ts',
            // The supply-chain tests: lock file, build, audit (no network; the build test compiles, ~15 s).
            'scripts/**/*.test.ts',
          ],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'integration',
          globalSetup: ['tests/helpers/global-setup.ts'],
          include: ['tests/**/*.test.ts'],
          environment: 'node',
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
