import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fitHolt, forecastAt, holt, timeToBreach } from './forecast.ts';

describe("Holt's linear trend", () => {
  it('follows its recursions (a brute-force restatement) for any series and constants', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -1e3, max: 1e3, noNaN: true }), { minLength: 2, maxLength: 60 }),
        fc.double({ min: 0.01, max: 0.99, noNaN: true }),
        fc.double({ min: 0.01, max: 0.99, noNaN: true }),
        (ys, a, b) => {
          const levels = [ys[0] as number];
          const trends = [(ys[1] as number) - (ys[0] as number)];
          const errors: number[] = [];
          for (let i = 1; i < ys.length; i++) {
            const forecast = (levels[i - 1] as number) + (trends[i - 1] as number);
            if (i > 1) errors.push((ys[i] as number) - forecast);
            levels.push(a * (ys[i] as number) + (1 - a) * forecast);
            trends.push(b * ((levels[i] as number) - (levels[i - 1] as number)) + (1 - b) * (trends[i - 1] as number));
          }
          const f = holt(ys, a, b);
          expect(f.level).toBeCloseTo(levels[levels.length - 1] as number, 6);
          expect(f.trend).toBeCloseTo(trends[trends.length - 1] as number, 6);
          const sse = errors.reduce((s, e) => s + e * e, 0);
          expect(f.sigma2).toBeCloseTo(errors.length ? sse / errors.length : 0, 4);
        },
      ),
    );
  });

  it('on a straight line: the trend is its slope, no error, and the breach comes exactly when the line meets the limit', () => {
    const line = Array.from({ length: 30 }, (_, i) => 100 + 25 * i); // lag growing 25 a step
    const f = fitHolt(line);
    expect(f.trend).toBeCloseTo(25, 9);
    expect(f.sigma2).toBeCloseTo(0, 9);
    // Last point 825; the limit 1,500 is 27 steps ahead.
    expect(timeToBreach(f, 1_500, 100)).toEqual({ expected: 27, earliest: 27, latest: 27 });
    expect(timeToBreach(f, 1_500, 20)).toBeNull(); // beyond the horizon
  });

  it('on a noisy climb the interval holds the expected breach, and widens with the horizon', () => {
    const ys = Array.from({ length: 60 }, (_, i) => 50 + 10 * i + (((i * 7919) % 11) - 5) * 4);
    const f = fitHolt(ys);
    const b = timeToBreach(f, 1_200, 500);
    expect(b).not.toBeNull();
    expect(b?.earliest).toBeLessThanOrEqual(b?.expected as number);
    // The lower bound may not reach the limit within the horizon at all (the interval widens as h³ with the trend's uncertainty).
    if (b?.latest != null) expect(b.latest).toBeGreaterThanOrEqual(b.expected);
    expect(b?.expected).toBeGreaterThan(50);
    expect(b?.expected).toBeLessThan(70);
    expect(forecastAt(f, 20).variance).toBeGreaterThan(forecastAt(f, 2).variance);
  });

  it('no breach for a falling or flat series, nor for one already at the limit', () => {
    expect(timeToBreach(fitHolt([500, 480, 470, 450, 430, 420]), 1_000, 1_000)).toBeNull();
    expect(timeToBreach(fitHolt([10, 10, 10, 10, 10]), 11, 1_000)).toBeNull();
    expect(timeToBreach(fitHolt([900, 1_000, 1_100]), 1_000, 10)).toBeNull();
    expect(() => holt([1], 0.5, 0.5)).toThrow(/at least 2 points/);
  });
});
