// The order test files start in (tests/helpers/sequencer.ts): pure, no service.
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { LAST, longestFirst, MEASURED_SECONDS } from './sequencer.ts';

describe('the test files’ order', () => {
  it('starts the files measured longest first, then the rest in the order given, and the cluster’s two last', () => {
    const files = [
      'tests/e2e/fault-run.e2e.test.ts',
      'a.test.ts',
      'tests/e2e/crash.e2e.test.ts',
      'b.test.ts',
      'tests/e2e/crash-points.e2e.test.ts',
      'tests/e2e/kafka-cluster.e2e.test.ts',
      'c.test.ts',
    ];
    expect(longestFirst(files, (f) => f)).toEqual([
      'tests/e2e/crash-points.e2e.test.ts',
      'tests/e2e/crash.e2e.test.ts',
      'a.test.ts',
      'b.test.ts',
      'c.test.ts',
      'tests/e2e/kafka-cluster.e2e.test.ts',
      'tests/e2e/fault-run.e2e.test.ts',
    ]);
  });

  it('names files that exist (a renamed file would silently lose its place)', () => {
    const root = new URL('../../', import.meta.url);
    expect([...Object.keys(MEASURED_SECONDS), ...LAST].filter((f) => !existsSync(new URL(f, root)))).toEqual([]);
  });
});
