import fc from 'fast-check';
import { median, medianAbsoluteDeviation, mean, standardDeviation } from 'simple-statistics';
import { describe, expect, it } from 'vitest';
import { madOfSorted, RobustWindow } from './robust-window.ts';

/** Random streams: [gap ms, value] steps, values with ties (small integers) or spread (floats). */
const streams = fc.array(
  fc.tuple(
    fc.integer({ min: 0, max: 5_000 }),
    fc.oneof(fc.integer({ min: -3, max: 3 }), fc.double({ min: -1e6, max: 1e6, noNaN: true })),
  ),
  { minLength: 1, maxLength: 200 },
);

/** Equal but for the last bits of a double (sums and halves taken in another order). */
function close(got: number, want: number): void {
  expect(Math.abs(got - want)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(got), Math.abs(want)));
}

describe('RobustWindow', () => {
  it('after every point, its statistics equal a brute-force recomputation over the points of the last windowMs', () => {
    fc.assert(
      fc.property(streams, fc.integer({ min: 1, max: 20_000 }), (steps, windowMs) => {
        const w = new RobustWindow(windowMs);
        const all: Array<[number, number]> = [];
        let t = 0;
        for (const [gap, v] of steps) {
          t += gap;
          w.add(t, v);
          all.push([t, v]);
          const inWindow = all.filter(([at]) => at >= t - windowMs).map(([, x]) => x);
          const s = w.stats();
          expect(s).not.toBeNull();
          expect(s?.n).toBe(inWindow.length);
          close(s?.median as number, median(inWindow));
          const m = median(inWindow);
          close(s?.mad as number, medianAbsoluteDeviation(inWindow));
          close(s?.meanAd as number, mean(inWindow.map((x) => Math.abs(x - m))));
          close(s?.mean as number, mean(inWindow));
          close(s?.sd as number, standardDeviation(inWindow));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('madOfSorted equals simple-statistics on any array, ties and even lengths included', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -5, max: 5 }), { minLength: 1, maxLength: 40 }), (xs) => {
        const s = [...xs].sort((a, b) => a - b);
        expect(madOfSorted(s, median(s))).toBe(medianAbsoluteDeviation(xs));
      }),
    );
  });

  it('is empty after its points age out, and refuses a window that is not positive', () => {
    const w = new RobustWindow(1_000);
    w.add(0, 5);
    w.evictBefore(1);
    expect(w.stats()).toBeNull();
    expect(() => new RobustWindow(0)).toThrow(/windowMs must be positive/);
  });
});
