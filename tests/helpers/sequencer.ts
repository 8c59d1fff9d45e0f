// The order test files start in (vitest.config.ts `sequence.sequencer`). Three integration files
// run at a time, so the tier ends when its last long file does: vitest's own order on a fresh
// checkout (CI's; no cache of earlier durations) is the larger file first, which on 2026-12-08
// started the crash and cluster files (45–60 s each) in the last quarter of the tier, side by side
// slowing each other, with a 50-s file alone at the end. Longest first (LPT scheduling) ends the
// workers close together. The weights are the durations measured in CI (.txmon/test-report/
// results.json of a clean run, seconds); files not listed come after them, larger first as before.
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * Measured on a clean checkout of 38ef422 (npm test, 2026-12-08): the integration tier's files over
 * 10 s. (The chaos tier runs one file at a time: its order is LAST's.)
 */
export const MEASURED_SECONDS: Readonly<Record<string, number>> = {
  'tests/e2e/crash-points.e2e.test.ts': 60,
  'tests/e2e/reconcile-crash.e2e.test.ts': 50,
  'tests/e2e/detection.e2e.test.ts': 48,
  'tests/e2e/crash.e2e.test.ts': 45,
  'tests/e2e/cluster.e2e.test.ts': 44,
  'tests/e2e/console.e2e.test.ts': 31,
  'tests/e2e/ingest.e2e.test.ts': 27,
  'tests/e2e/reconcile.e2e.test.ts': 27,
  'tests/e2e/ops-watch.e2e.test.ts': 23,
  'tests/e2e/api-fuzz.e2e.test.ts': 22,
  'tests/integration/dashboard-api.test.ts': 21,
  'tests/integration/ops-watch.test.ts': 20,
  'tests/e2e/state-rollback.e2e.test.ts': 19,
  'tests/integration/tls.test.ts': 18,
  'tests/integration/api-security.test.ts': 16,
  'tests/integration/state-rebuild.test.ts': 12,
  'tests/integration/api-probes.test.ts': 12,
  'tests/integration/transactional-output.test.ts': 11,
};

/**
 * The chaos tier's files that use the three-broker cluster, last and in this order: the cluster one
 * starts stays up for the next (tests/helpers/chaos-setup.ts).
 */
export const LAST: readonly string[] = ['tests/e2e/kafka-cluster.e2e.test.ts', 'tests/e2e/fault-run.e2e.test.ts'];

/** Known durations first, longest first; then the others in the order given; LAST's at the end. */
export function longestFirst<T>(items: readonly T[], pathOf: (item: T) => string): T[] {
  const weight = (item: T) => {
    const last = LAST.indexOf(pathOf(item));
    return last >= 0 ? -2 - last : (MEASURED_SECONDS[pathOf(item)] ?? -1);
  };
  const rank = new Map(items.map((item, i) => [item, i]));
  return [...items].sort((a, b) => weight(b) - weight(a) || (rank.get(a) as number) - (rank.get(b) as number));
}

export class LongestFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const base = await super.sort(files);
    const root = this.ctx.config.root.replace(/\/$/, '');
    return longestFirst(base, (f) => f.moduleId.slice(root.length + 1));
  }
}
