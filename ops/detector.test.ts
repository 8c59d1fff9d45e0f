import fc from 'fast-check';
import { mean, median, medianAbsoluteDeviation, standardDeviation } from 'simple-statistics';
import { describe, expect, it } from 'vitest';
import { DEFAULT_DETECTOR, Detector, scoreSeries, type DetectorParams } from './detector.ts';
import { MAD_TO_SIGMA, MEAN_AD_TO_SIGMA } from './robust-window.ts';

/** The detector's definition, computed the slow way: every point against the points before it in its window. */
function bruteForce(points: Array<[number, number]>, p: DetectorParams): Array<{ score: number; flagged: boolean }> {
  let run = 0;
  return points.map(([t, v], i) => {
    const before = points
      .slice(0, i)
      .filter(([at]) => at >= t - p.windowMs)
      .map(([, x]) => x);
    if (before.length < p.minPoints) {
      run = 0;
      return { score: 0, flagged: false };
    }
    let centre: number;
    let scale: number;
    if (p.method === 'zscore') {
      centre = mean(before);
      scale = standardDeviation(before);
    } else {
      centre = median(before);
      const mad = medianAbsoluteDeviation(before);
      scale = mad > 0 ? MAD_TO_SIGMA * mad : MEAN_AD_TO_SIGMA * mean(before.map((x) => Math.abs(x - centre)));
    }
    // The floors, as their definitions read: counting noise √(mean·s)/s (at least one event's, 1/s) for
    // a count's rate; the width of the bucket the centre falls in for a histogram's quantile.
    let floor = p.minScale;
    if (p.countSeconds !== undefined)
      floor = Math.max(floor, Math.sqrt(Math.max(mean(before) * p.countSeconds, 1)) / p.countSeconds);
    // For shares of n events: binomial noise √(c(1−c)/n) at the centre c clamped to [0, 1], at least 1/n.
    if (p.trials !== undefined) {
      const c = Math.min(1, Math.max(0, centre));
      floor = Math.max(floor, Math.sqrt((c * (1 - c)) / p.trials), 1 / p.trials);
    }
    if (p.bounds !== undefined) {
      const upper = p.bounds.find((b) => centre <= b);
      const lower = upper === undefined ? 0 : Math.max(0, ...p.bounds.filter((b) => b < upper));
      floor = Math.max(floor, upper === undefined ? Math.abs(centre) : upper - lower);
    }
    const score = (v - centre) / Math.max(scale, floor);
    run = Math.abs(score) >= p.threshold ? run + 1 : 0;
    return { score, flagged: run >= p.persist };
  });
}

const NOISE = (i: number) => 100 + ((i * 7919) % 13) - 6; // deterministic noise in 94..106

describe('the detector', () => {
  it('scores and flags every point as the brute-force definition does (random series, both methods, random params)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: -50, max: 50 })), { minLength: 1, maxLength: 120 }),
        fc.record({
          method: fc.constantFrom('robust' as const, 'zscore' as const),
          windowMs: fc.integer({ min: 1, max: 60 }),
          threshold: fc.double({ min: 0.5, max: 5, noNaN: true }),
          persist: fc.integer({ min: 1, max: 3 }),
          minPoints: fc.integer({ min: 2, max: 10 }),
          minScale: fc.constantFrom(1e-9, 0.5),
          countSeconds: fc.option(fc.constantFrom(0.5, 1, 15), { nil: undefined }),
          bounds: fc.option(fc.constantFrom([5, 10, 25], [1, 2, 4, 8, 16, 32]), { nil: undefined }),
          trials: fc.option(fc.constantFrom(1, 4, 100), { nil: undefined }),
        }),
        (steps, drawn) => {
          const { countSeconds, bounds, trials, ...rest } = drawn;
          const params: DetectorParams = {
            ...rest,
            ...(countSeconds !== undefined && { countSeconds }),
            ...(bounds !== undefined && { bounds }),
            ...(trials !== undefined && { trials }),
          };
          let t = 0;
          const points = steps.map(([gap, v]) => [(t += gap), v] as [number, number]);
          const got = scoreSeries(points, params);
          const want = bruteForce(points, params);
          got.forEach((g, i) => {
            expect(g.flagged, `point ${i}`).toBe(want[i]?.flagged);
            expect(g.score).toBeCloseTo(want[i]?.score as number, 6);
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('flags a level shift from its second point by default, and a one-point blip only with persist 1', () => {
    const minute = 60_000;
    const series = Array.from({ length: 90 }, (_, i) => [i * minute, i >= 60 ? NOISE(i) + 40 : NOISE(i)] as [number, number]);
    series[30] = [30 * minute, 180]; // a blip
    const byDefault = scoreSeries(series);
    expect(byDefault.filter((p) => p.flagged).map((p) => p.time / minute)[0]).toBe(61);
    expect(byDefault[30]?.flagged).toBe(false);
    expect(byDefault[30]?.score).toBeGreaterThan(DEFAULT_DETECTOR.threshold);
    const everyPoint = scoreSeries(series, { ...DEFAULT_DETECTOR, persist: 1 });
    expect(everyPoint[30]?.flagged).toBe(true);
    expect(everyPoint[60]?.flagged).toBe(true);
  });

  it('the robust baseline is not blinded by an earlier outlier, where the plain z-score is', () => {
    const series = Array.from({ length: 80 }, (_, i) => [i * 1_000, NOISE(i)] as [number, number]);
    series[40] = [40_000, 10_000]; // a huge outlier inflates the window's standard deviation
    series[60] = [60_000, 160]; // a real anomaly after it
    const params = { ...DEFAULT_DETECTOR, persist: 1 };
    expect(scoreSeries(series, params)[60]?.flagged).toBe(true);
    expect(scoreSeries(series, { ...params, method: 'zscore' })[60]?.flagged).toBe(false);
  });

  it('a flat series (MAD 0) uses the mean absolute deviation, then minScale: a change off a flat zero is unusual, not infinite', () => {
    const d = new Detector({ ...DEFAULT_DETECTOR, minPoints: 5, persist: 1, minScale: 0.5 });
    for (let i = 0; i < 10; i++) d.push(i, 0);
    const p = d.push(10, 3);
    expect(p.scale).toBe(0.5);
    expect(p.score).toBe(6);
    expect(p.flagged).toBe(true);
  });

  it('refuses time going backwards, a value that is not finite, and parameters that describe no detector', () => {
    const d = new Detector();
    d.push(10, 1);
    expect(() => d.push(9, 1)).toThrow(/before the previous point/);
    expect(() => d.push(11, Number.NaN)).toThrow(/not a finite number/);
    expect(() => new Detector({ ...DEFAULT_DETECTOR, persist: 0 })).toThrow(/persist/);
    expect(() => new Detector({ ...DEFAULT_DETECTOR, threshold: -1 })).toThrow(/threshold/);
  });
});
