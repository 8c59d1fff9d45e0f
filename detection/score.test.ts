import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { objectSource } from '../domain/snapshot.ts';
import { distributionOf, percentileOf } from './baseline.ts';
import { pathContributions, scoreMatrix, trainForest } from './isolation-forest.ts';
import { ModelScorer, topColumns, type ServingModel } from './score.ts';

describe('topColumns', () => {
  it('gives what a stable sort of every column by share, descending, cut to `top`, gives (ties in column order)', () => {
    fc.assert(
      fc.property(
        // Few distinct values, so ties are common.
        fc.array(fc.constantFrom(0, 0.1, 0.25, 0.5, 1 / 3), { maxLength: 30 }),
        fc.integer({ min: 1, max: 5 }),
        (values, top) => {
          const shares = Float64Array.from(values);
          const sorted = Array.from(shares.keys())
            .sort((a, b) => (shares[b] as number) - (shares[a] as number))
            .slice(0, top);
          expect(topColumns(shares, top)).toEqual(sorted);
        },
      ),
      { numRuns: 500 },
    );
    expect(topColumns(Float64Array.from([0.2, 0.5, 0.2, 0.1]), 3)).toEqual([1, 0, 2]);
  });
});

// What the mutation run showed unpinned (`npm run mutation`): the scorer's verdict, its drivers'
// fields (value, share to three decimals, percentile or null), the column check, `top` of zero.
describe('ModelScorer', () => {
  const names = ['a', 'b', 'c'];
  const rows = 300;
  const data = new Float64Array(rows * names.length);
  for (let i = 0; i < data.length; i++) data[i] = ((i * 7919) % 1000) / 10;
  const matrix = { rows, cols: names.length, data };
  const forest = trainForest(matrix, { trees: 20, sampleSize: 64, seed: 3 });
  const column = (c: number) => Float64Array.from({ length: rows }, (_, r) => data[r * names.length + c] as number);
  // No baseline distribution for c: its driver's percentile is unknown, not guessed.
  const model: ServingModel = {
    version: 'm-1',
    features: names,
    threshold: 0.6,
    baseline: {
      features: { a: distributionOf(column(0)), b: distributionOf(column(1)) },
      score: distributionOf(scoreMatrix(forest, matrix)),
    },
    forest,
  };

  it('refuses a forest whose columns do not match its features, naming both', () => {
    expect(() => new ModelScorer({ ...model, features: ['a', 'b'] })).toThrow('model m-1: 3 columns for 2 features');
  });

  it('explains a score by its drivers: value (null when missing), share to three decimals, percentile where the baseline has one', () => {
    const scorer = new ModelScorer(model);
    const snapshot = objectSource({ a: 99.9, b: null, c: 0.5 });
    const verdict = scorer.verdict(snapshot);
    const score = scorer.score(snapshot);
    expect(verdict.score).toBe(score);
    expect(Array.from(scorer.lastVector)).toEqual([99.9, Number.NaN, 0.5]);
    expect(verdict).toMatchObject({ version: 'm-1', threshold: 0.6 });
    expect(verdict.percentile).toBe(percentileOf(model.baseline.score, score));
    const shares = pathContributions(forest, Float64Array.from([99.9, Number.NaN, 0.5]));
    expect(verdict.drivers).toHaveLength(3);
    for (const d of verdict.drivers) {
      const c = names.indexOf(d.name);
      expect(d.share).toBe(Math.round((shares[c] as number) * 1000) / 1000);
      expect(d.value).toBe(c === 1 ? null : [99.9, 0, 0.5][c]);
      expect(d.percentile).toBe(c === 2 ? null : percentileOf(model.baseline.features[d.name]!, [99.9, Number.NaN][c] as number));
    }
    expect(verdict.drivers.map((d) => d.name)).toEqual(topColumns(shares, 3).map((c) => names[c]));
    expect(scorer.explain(score, 0).drivers).toEqual([]);
    expect(scorer.explain(score, 1).drivers).toEqual(verdict.drivers.slice(0, 1));
  });
});
