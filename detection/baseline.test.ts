import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Rng } from '../domain/rng.ts';
import { distributionOf, percentileOf, psi } from './baseline.ts';

const normals = (n: number, seed: number, mean = 0, sd = 1) => {
  const rng = new Rng(seed);
  return Float64Array.from({ length: n }, () => rng.normal(mean, sd));
};

describe('distributionOf / percentileOf', () => {
  it('keeps 101 quantiles and the missing share', () => {
    const d = distributionOf([1, 2, 3, NaN]);
    expect(d.quantiles).toHaveLength(101);
    expect(d.quantiles[0]).toBe(1);
    expect(d.quantiles[100]).toBe(3);
    expect(d.missing).toBe(0.25);
    expect(distributionOf([NaN]).quantiles).toEqual([]);
  });

  it('gives the share of training values at or below a value', () => {
    const d = distributionOf(Float64Array.from({ length: 1001 }, (_, i) => i));
    expect(percentileOf(d, 500)).toBeCloseTo(0.5, 6);
    expect(percentileOf(d, 990)).toBeCloseTo(0.99, 6);
    expect(percentileOf(d, -5)).toBe(0);
    expect(percentileOf(d, 5000)).toBe(1);
    expect(percentileOf(d, NaN)).toBeNull();
  });

  it('is monotone in the value, for any sample', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: -50, max: 50 }), { minLength: 1, maxLength: 200 }),
        fc.integer({ min: -60, max: 60 }),
        fc.integer({ min: -60, max: 60 }),
        (sample, a, b) => {
          const d = distributionOf(sample);
          const [lo, hi] = a <= b ? [a, b] : [b, a];
          expect(percentileOf(d, lo) as number).toBeLessThanOrEqual(percentileOf(d, hi) as number);
        },
      ),
    );
  });
});

describe('psi', () => {
  const base = distributionOf(normals(20_000, 1));

  it('is near 0 for a sample from the training distribution and large for a shifted one', () => {
    expect(psi(base, normals(5_000, 2))).toBeLessThan(0.02);
    expect(psi(base, normals(5_000, 3, 0.5))).toBeGreaterThan(0.1);
    expect(psi(base, normals(5_000, 4, 2))).toBeGreaterThan(1);
  });

  it('counts a change in the share of missing values as drift', () => {
    const sample = normals(5_000, 5);
    for (let i = 0; i < 2_500; i++) sample[i] = NaN;
    expect(psi(base, sample)).toBeGreaterThan(0.5);
    expect(psi(distributionOf([NaN, NaN]), [NaN])).toBeLessThan(1e-9);
    expect(psi(distributionOf([NaN, NaN]), [1])).toBeGreaterThan(1);
  });

  it('matches the textbook sum on a hand-made case', () => {
    // Training 0..99: deciles cut at 10, 20, ..., 90; a sample all in the first decile.
    const d = distributionOf(Float64Array.from({ length: 100 }, (_, i) => i));
    const got = psi(d, [0, 1, 2, 3]);
    // Bins: ten deciles of ~0.1 each (quantile interpolation puts the cuts at 9.9, 19.8, ...), missing 0.
    const expected = [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0];
    const actual = [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    const want = expected.reduce((s, e, i) => {
      const a = Math.max(actual[i] as number, 1e-4);
      const x = Math.max(e, 1e-4);
      return s + (a - x) * Math.log(a / x);
    }, 0);
    expect(got).toBeCloseTo(want, 6);
  });
});
