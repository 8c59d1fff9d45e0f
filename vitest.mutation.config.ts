import { defineConfig } from 'vitest/config';

// `npm run mutation` (issue 22, stryker.config.json): the unit tests of the pure modules Stryker
// mutates, and nothing that needs a service (vitest.config.ts's integration tiers have a global
// setup that starts them).
export default defineConfig({
  test: {
    include: ['{domain,detection,reconciliation,state}/**/*.test.ts'],
    // The properties over 10,000 generated records (docs/testing.md) add minutes per mutant and kill
    // nothing the examples do not: they guard the ingest's and the import's accounting, not these modules' logic.
    exclude: ['**/node_modules/**', '**/*.generated.test.ts'],
    environment: 'node',
    // Instrumented code runs several times slower: the default 5 s is too short for the property tests.
    testTimeout: 60_000,
  },
});
