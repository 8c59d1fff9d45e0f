import fc from 'fast-check';
import { IsolationForest as LibraryForest } from 'ml-isolation-forest';
import { describe, expect, it } from 'vitest';
import { Rng } from '../domain/rng.ts';
import {
  averagePathLength,
  meanPathLength,
  pathContributions,
  scoreMatrix,
  scoreRow,
  trainForest,
  type Matrix,
} from './isolation-forest.ts';

/** n rows of `cols` standard normals, then the given extra rows. */
function gaussian(n: number, cols: number, seed: number, extra: number[][] = []): Matrix {
  const rng = new Rng(seed);
  const data = new Float64Array((n + extra.length) * cols);
  for (let i = 0; i < n * cols; i++) data[i] = rng.normal();
  extra.forEach((row, k) => data.set(row, (n + k) * cols));
  return { rows: n + extra.length, cols, data };
}

const rank = (scores: ArrayLike<number>, i: number) => Array.from(scores).filter((s) => s > (scores[i] as number)).length;

describe('averagePathLength c(n)', () => {
  it('matches the paper: 2H(n−1) − 2(n−1)/n with H(i) = ln i + γ, and 0, 1 for n = 1, 2', () => {
    expect(averagePathLength(1)).toBe(0);
    expect(averagePathLength(2)).toBe(1);
    expect(averagePathLength(256)).toBeCloseTo(10.2448, 4);
    // ml-isolation-forest adds γ once: 2 ln(255) + γ − 2·255/256 ≈ 9.667, which biases every score.
    expect(averagePathLength(256)).toBeGreaterThan(2 * Math.log(255) + 0.5772 - (2 * 255) / 256 + 0.5);
  });
});

describe('trainForest', () => {
  it('ranks a planted anomaly first and scores normals below 0.5 on average', () => {
    const m = gaussian(2000, 4, 7, [[6, -6, 6, -6]]);
    const scores = scoreMatrix(trainForest(m, { seed: 3 }), m);
    expect(rank(scores, m.rows - 1)).toBe(0);
    expect(scores[m.rows - 1]).toBeGreaterThan(0.65);
    const mean = Array.from(scores.subarray(0, 2000)).reduce((a, b) => a + b, 0) / 2000;
    expect(mean).toBeLessThan(0.5);
  });

  it('is deterministic for a seed and differs across seeds', () => {
    const m = gaussian(500, 3, 1);
    const a = trainForest(m, { seed: 9 });
    const b = trainForest(m, { seed: 9 });
    const c = trainForest(m, { seed: 10 });
    expect(b.value).toEqual(a.value);
    expect(b.feature).toEqual(a.feature);
    expect(c.value).not.toEqual(a.value);
  });

  it('grows each tree on ψ rows with height limit ⌈log2 ψ⌉, and caps ψ at the row count', () => {
    const m = gaussian(5000, 2, 2);
    const model = trainForest(m, { trees: 50, sampleSize: 64 });
    expect(model.sampleSize).toBe(64);
    expect(model.heightLimit).toBe(6);
    expect(model.feature.length).toBeLessThanOrEqual(50 * (2 * 64 - 1));
    // Leaves sit at depth ≤ 6, so a leaf's value (depth + c(size)) is at most 6 + c(64).
    for (let n = 0; n < model.feature.length; n++)
      if (model.feature[n] === -1) expect(model.value[n]).toBeLessThanOrEqual(6 + averagePathLength(64) + 1e-9);
    expect(trainForest(gaussian(10, 2, 2), { sampleSize: 256 }).sampleSize).toBe(10);
  });

  it('never splits on a constant column, and identical rows score exactly 0.5', () => {
    const m = gaussian(300, 3, 4);
    for (let r = 0; r < m.rows; r++) m.data[r * 3 + 1] = 42;
    const model = trainForest(m);
    expect(Array.from(model.feature)).not.toContain(1);

    const same: Matrix = { rows: 100, cols: 2, data: new Float64Array(200).fill(5) };
    const flat = trainForest(same, { trees: 10, sampleSize: 32 });
    expect(scoreRow(flat, [5, 5])).toBeCloseTo(0.5, 12);
  });

  it('treats a missing value as the column median, in training and in scoring', () => {
    const m = gaussian(1000, 3, 5);
    for (let r = 0; r < m.rows; r += 7) m.data[r * 3] = NaN;
    const model = trainForest(m, { seed: 2 });
    const median = model.fill[0] as number;
    expect(Math.abs(median)).toBeLessThan(0.2);
    expect(scoreRow(model, [NaN, 0.3, -0.2])).toBe(scoreRow(model, [median, 0.3, -0.2]));
    // A column with no value at all is harmless.
    const empty = gaussian(200, 2, 6);
    for (let r = 0; r < empty.rows; r++) empty.data[r * 2 + 1] = NaN;
    const e = trainForest(empty);
    expect(Array.from(e.feature)).not.toContain(1);
    expect(Number.isFinite(scoreRow(e, [0, NaN]))).toBe(true);
  });

  it('attributes the isolation of an outlier to the column it is extreme in', () => {
    const m = gaussian(2000, 5, 8);
    const model = trainForest(m, { seed: 4 });
    const shares = pathContributions(model, [0, 0, 9, 0, 0]);
    expect(Array.from(shares).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
    const top = Array.from(shares).indexOf(Math.max(...shares));
    expect(top).toBe(2);
  });

  it('gives exactly the shares of the walk that lists each path, for any row, with missing values', () => {
    // The implementation before it stopped listing each path's columns: every split on the path
    // adds 1 / path length to its column, root first.
    const reference = (model: ReturnType<typeof trainForest>, x: number[]) => {
      const share = new Float64Array(model.cols);
      let total = 0;
      for (const root of model.roots) {
        const path: number[] = [];
        let node = root;
        while ((model.feature[node] as number) >= 0) {
          const f = model.feature[node] as number;
          path.push(f);
          const v = Number.isNaN(x[f]) ? (model.fill[f] as number) : (x[f] as number);
          node = v < (model.value[node] as number) ? (model.left[node] as number) : (model.left[node] as number) + 1;
        }
        const weight = 1 / Math.max(1, model.value[node] as number);
        for (const c of path) {
          share[c] = (share[c] as number) + weight;
          total += weight;
        }
      }
      return total > 0 ? share.map((v) => v / total) : share;
    };
    const model = trainForest(gaussian(500, 4, 11), { trees: 30, sampleSize: 64, seed: 5 });
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.double({ min: -5, max: 5, noNaN: true }), fc.constant(Number.NaN)), { minLength: 4, maxLength: 4 }),
        (x) => {
          expect(pathContributions(model, x)).toEqual(reference(model, x));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('rejects bad options and data', () => {
    expect(() => trainForest(gaussian(1, 2, 1))).toThrow(/at least 2 rows/);
    expect(() => trainForest(gaussian(10, 2, 1), { trees: 0 })).toThrow(/trees/);
    expect(() => trainForest(gaussian(10, 2, 1), { sampleSize: 1 })).toThrow(/sampleSize/);
    expect(() => scoreMatrix(trainForest(gaussian(10, 2, 1)), gaussian(10, 3, 1))).toThrow(/columns/);
  });

  it('scores exactly as the plain walk does, for any data, with missing and infinite values', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 80 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 11 }),
        fc.integer({ min: 0, max: 1000 }),
        fc.array(fc.oneof(fc.double({ min: -100, max: 100, noNaN: true }), fc.constantFrom(NaN, Infinity, -Infinity, 0)), {
          minLength: 400,
          maxLength: 400,
        }),
        (rows, cols, trees, seed, pool) => {
          const data = Float64Array.from({ length: rows * cols }, (_, i) => pool[i % pool.length] as number);
          // Training data must be finite or missing; scoring data may be anything.
          const train = data.map((v) => (Number.isFinite(v) || Number.isNaN(v) ? v : 0));
          const model = trainForest({ rows, cols, data: train }, { trees, sampleSize: 32, seed });
          for (let r = 0; r < rows; r++) {
            const want = 2 ** (-meanPathLength(model, data, r * cols) / averagePathLength(model.sampleSize));
            // Equal up to the order of summation (the fast walk adds four trees at a time).
            expect(scoreRow(model, data, r * cols)).toBeCloseTo(want, 12);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('for any data, scores lie in (0, 1] and path lengths within [0, height limit + c(ψ)]', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 60 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 1000 }),
        fc.array(fc.oneof(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.constant(NaN), fc.constant(0)), {
          minLength: 240,
          maxLength: 240,
        }),
        (rows, cols, seed, pool) => {
          const data = Float64Array.from({ length: rows * cols }, (_, i) => pool[i % pool.length] as number);
          const model = trainForest({ rows, cols, data }, { trees: 5, sampleSize: 16, seed });
          for (let r = 0; r < rows; r++) {
            const h = meanPathLength(model, data, r * cols);
            expect(h).toBeGreaterThanOrEqual(0);
            expect(h).toBeLessThanOrEqual(model.heightLimit + averagePathLength(model.sampleSize) + 1e-9);
            const s = scoreRow(model, data, r * cols);
            expect(s).toBeGreaterThan(0);
            expect(s).toBeLessThanOrEqual(1);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('ml-isolation-forest baseline', () => {
  it('both forests rank a planted anomaly above every normal row', () => {
    const m = gaussian(400, 3, 11, [[7, 7, -7]]);
    const rows: number[][] = [];
    for (let r = 0; r < m.rows; r++) rows.push(Array.from(m.data.subarray(r * 3, r * 3 + 3)));
    const lib = new LibraryForest({ nEstimators: 50 });
    lib.train(rows);
    const libScores = lib.predict(rows) as number[];
    const ours = scoreMatrix(trainForest(m, { trees: 50, seed: 1 }), m);
    expect(rank(libScores, m.rows - 1)).toBe(0);
    expect(rank(ours, m.rows - 1)).toBe(0);
  });
});
