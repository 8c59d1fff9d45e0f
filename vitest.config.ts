import { defineConfig } from 'vitest/config';
import { LongestFirstSequencer } from './tests/helpers/sequencer.ts';

// The files that stop and restart the shared services (the broker, the registry, Redis, MariaDB):
// nothing else may run beside them.
const CHAOS = [
  'tests/e2e/outage.e2e.test.ts',
  'tests/e2e/broker-outage.e2e.test.ts',
  'tests/e2e/registry-outage.e2e.test.ts',
  // Three more brokers and six Redis nodes: alone, so the other files are not slowed by them.
  'tests/e2e/kafka-cluster.e2e.test.ts',
  // Issue 23's fault run: the cluster, every dependency faulted, MariaDB restarted.
  'tests/e2e/fault-run.e2e.test.ts',
];

/** Every test process's heap ceiling (below, at `poolOptions`). */
const FORK_ARGS = ['--max-old-space-size=8192'];

// Files that measure (frames in the browser) and must not share the machine with other test files:
// run with the chaos files, one at a time. They change no service.
const SERIAL = ['tests/e2e/console-budget.e2e.test.ts'];

// Three projects, run one after the other: unit tests beside the code (no network, two files at a
// time); integration/end-to-end tests in tests/ against the real broker, registry, MariaDB and
// Redis (three files at a time); then the chaos files, which stop and start those services, and the
// files that measure, each alone.
export default defineConfig({
  test: {
    // At most three files at a time (vitest's default here would be one: the CPUs less one). Each
    // pool has its own cap, and vitest reads pools' options here only, not per project: the forks
    // (integration and chaos files) three at a time, not two, as they wait on the services and on
    // the processes they start far more than they compute (the integration tier's CPU time was the
    // same at 3 as at 2, its wall time 322 s against 403 s back to back, 2026-12-08); the threads (unit
    // files) two at a time, as they compute. FORK_ARGS is a ceiling, not a reservation: the fault
    // run at a million events (`npm run chaos`) compares two namespaces' ids, statuses and events in
    // its worker (~2 GB of heap in use at its end, 2026-12-07), close to V8's default ~4 GB limit.
    // The processes the tests spawn do not get it.
    maxWorkers: 3,
    poolOptions: { forks: { maxForks: 3, execArgv: FORK_ARGS }, threads: { maxThreads: 2, minThreads: 1 } },
    // The console's report, and on disk (.txmon/test-report/): JUnit XML, vitest's JSON (.ci/run
    // reads its counts) and a short Markdown summary (scripts/test-report.ts). A `--reporter` on the
    // command line replaces these.
    reporters: ['default', 'junit', 'json', './scripts/test-report.ts'],
    // The files measured longest start first (tests/helpers/sequencer.ts): the tiers end sooner.
    sequence: { sequencer: LongestFirstSequencer },
    outputFile: { junit: '.txmon/test-report/junit.xml', json: '.txmon/test-report/results.json' },
    projects: [
      {
        test: {
          name: 'unit',
          include: [
            '{bench,bin,config,console,dashboard-api,deploy,detection,domain,models,ops,platform,processors,reconciliation,refdata,runtime,sinks,simulator,state,topics,schemas,cli,services}/**/*.test.ts',
            // The supply-chain tests: lock file, build, audit (no network; the build test compiles, ~15 s).
            'scripts/**/*.test.ts',
          ],
          environment: 'node',
          // In worker threads, two at a time (root poolOptions): the forks' pool is sized for the
          // integration tier. 73–83 s here against 84 s as three forks, and 82–90 s as two isolated
          // forks as before (2026-12-08).
          pool: 'threads',
          // Each file in a fresh thread: vitest 3 takes `isolate` for its pools from the root config
          // only (poolOptions.threads.isolate, unset: true), so a project's `isolate: false` did
          // nothing here, and does not in the integration tier either.
          // Before the integration files, not beside them (those measure timing-sensitive behaviour).
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'integration',
          globalSetup: ['tests/helpers/global-setup.ts'],
          setupFiles: ['tests/helpers/quiet-warnings.ts'],
          sequence: { groupOrder: 1 },
          // Three files at a time (root poolOptions), each in its own namespace (topics, database,
          // key prefix, groups) and its own fork (see the unit tier on `isolate`).
          include: ['tests/**/*.test.ts'],
          exclude: [...CHAOS, ...SERIAL],
          environment: 'node',
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
      {
        test: {
          name: 'chaos',
          // The integration tier's setup, and the cluster kept up between the files that use it.
          globalSetup: ['tests/helpers/chaos-setup.ts'],
          setupFiles: ['tests/helpers/quiet-warnings.ts'],
          // Last, one file at a time, alone: these stop and start the shared services.
          sequence: { groupOrder: 2 },
          poolOptions: { forks: { singleFork: true } },
          isolate: false,
          include: [...CHAOS, ...SERIAL],
          environment: 'node',
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
