import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { atThreshold, averagePrecision, rocAuc, thresholdForRate } from './metrics.ts';

/** Brute force: over all positive/negative pairs, wins + ties/2. */
function pairwiseAuc(scores: number[], labels: boolean[]): number {
  let won = 0;
  let pairs = 0;
  for (let i = 0; i < scores.length; i++)
    for (let j = 0; j < scores.length; j++)
      if (labels[i] && !labels[j]) {
        pairs++;
        const a = scores[i] as number;
        const b = scores[j] as number;
        won += a > b ? 1 : a === b ? 0.5 : 0;
      }
  return pairs === 0 ? NaN : won / pairs;
}

/** Brute force: for each distinct threshold from the top, the recall gained times precision there. */
function stepwiseAp(scores: number[], labels: boolean[]): number {
  const positives = labels.filter(Boolean).length;
  if (positives === 0) return NaN;
  const thresholds = [...new Set(scores)].sort((a, b) => b - a);
  let ap = 0;
  let prevRecall = 0;
  for (const t of thresholds) {
    const flagged = scores.map((s, i) => ({ s, l: labels[i] })).filter((x) => x.s >= t);
    const tp = flagged.filter((x) => x.l).length;
    const recall = tp / positives;
    ap += (recall - prevRecall) * (tp / flagged.length);
    prevRecall = recall;
  }
  return ap;
}

const labelled = fc
  .array(fc.record({ s: fc.integer({ min: 0, max: 8 }), l: fc.boolean() }), { minLength: 1, maxLength: 60 })
  .map((xs) => ({ scores: xs.map((x) => x.s / 4), labels: xs.map((x) => x.l) }));

describe('rocAuc', () => {
  it('is 1 for a perfect ranking, 0 for a reversed one, 0.5 when all tie, NaN with one class', () => {
    expect(rocAuc([0.9, 0.8, 0.1], [true, true, false])).toBe(1);
    expect(rocAuc([0.1, 0.2, 0.9], [true, true, false])).toBe(0);
    expect(rocAuc([0.5, 0.5, 0.5, 0.5], [true, false, true, false])).toBe(0.5);
    expect(rocAuc([0.5, 0.7], [true, true])).toBeNaN();
  });

  it('equals the pairwise count with ties as halves', () => {
    fc.assert(
      fc.property(labelled, ({ scores, labels }) => {
        const want = pairwiseAuc(scores, labels);
        const got = rocAuc(scores, labels);
        if (Number.isNaN(want)) expect(got).toBeNaN();
        else expect(got).toBeCloseTo(want, 12);
      }),
      { numRuns: 300 },
    );
  });
});

describe('averagePrecision', () => {
  it('is 1 when every positive ranks first and the positive rate when all tie', () => {
    expect(averagePrecision([0.9, 0.8, 0.1, 0.05], [true, true, false, false])).toBe(1);
    expect(averagePrecision([1, 1, 1, 1], [true, false, false, false])).toBe(0.25);
    // Positives at ranks 1 and 3: (1/2)(1/1) + (1/2)(2/3).
    expect(averagePrecision([0.9, 0.8, 0.7], [true, false, true])).toBeCloseTo(0.5 + 1 / 3, 12);
  });

  it('equals the step-wise sum over distinct thresholds', () => {
    fc.assert(
      fc.property(labelled, ({ scores, labels }) => {
        const want = stepwiseAp(scores, labels);
        const got = averagePrecision(scores, labels);
        if (Number.isNaN(want)) expect(got).toBeNaN();
        else expect(got).toBeCloseTo(want, 12);
      }),
      { numRuns: 300 },
    );
  });
});

describe('thresholdForRate and atThreshold', () => {
  it('never flags more than the rate, and flags exactly that many when scores are distinct', () => {
    fc.assert(
      fc.property(labelled, fc.double({ min: 0, max: 1, noNaN: true }), ({ scores, labels }, rate) => {
        const t = thresholdForRate(scores, rate);
        const stats = atThreshold(scores, labels, t);
        expect(stats.flagged).toBeLessThanOrEqual(Math.floor(rate * scores.length));
      }),
      { numRuns: 300 },
    );
    const distinct = Array.from({ length: 100 }, (_, i) => i / 100);
    const stats = atThreshold(
      distinct,
      distinct.map((s) => s >= 0.9),
      thresholdForRate(distinct, 0.05),
    );
    expect(stats.flagged).toBe(5);
    expect(stats.precision).toBe(1);
    expect(stats.recall).toBe(0.5);
    expect(stats.alertRate).toBe(0.05);
  });

  it('rejects rates outside [0, 1] and mismatched lengths', () => {
    expect(() => thresholdForRate([1], 1.5)).toThrow(/rate/);
    expect(() => rocAuc([1, 2], [true])).toThrow(/labels/);
    expect(() => averagePrecision([NaN], [true])).toThrow(/NaN/);
  });
});
