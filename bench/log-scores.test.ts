import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { groupingAccuracy, LogTemplateMiner } from '../ops/log-templates.ts';
import { groupScores } from './log-scores.ts';

describe('groupScores', () => {
  it("gives ops/log-templates.ts's grouping accuracy, and counts a template exact when its lines are one group of its own (random groupings)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.option(fc.constantFrom('a', 'b', 'c', 'd'), { nil: undefined }), fc.integer({ min: 1, max: 4 })), {
          maxLength: 40,
        }),
        (rows) => {
          const truth: Array<string | undefined> = rows.map(([t]) => t);
          const predicted = rows.map(([, p]) => p);
          const s = groupScores(truth, predicted, new LogTemplateMiner());
          expect(s.groupingAccuracy).toBeCloseTo(groupingAccuracy(truth, predicted), 12);
          expect(s.labelled).toBe(truth.filter((t) => t !== undefined).length);
          // Exact, by definition: the set of lines of the truth equals the set of labelled lines of its group.
          const labels = [...new Set(truth.filter((t): t is string => t !== undefined))];
          const exact = labels.filter((t) => {
            const groups = new Set(predicted.filter((_, i) => truth[i] === t));
            const [g] = groups;
            return groups.size === 1 && predicted.every((p, i) => p !== g || truth[i] === undefined || truth[i] === t);
          }).length;
          expect(s.templatesExact).toBeCloseTo(labels.length === 0 ? 0 : exact / labels.length, 12);
        },
      ),
    );
  });

  it('refuses truth and predictions of different lengths', () => {
    expect(() => groupScores(['a'], [], new LogTemplateMiner())).toThrow(RangeError);
  });
});
