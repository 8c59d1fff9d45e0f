import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { topColumns } from './score.ts';

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
