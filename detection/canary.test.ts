import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BUCKETS, accountBucket, inCanary, parseShare } from './canary.ts';

describe('accountBucket', () => {
  it('puts every account in one bucket, always the same', () => {
    fc.assert(
      fc.property(fc.string(), (id) => {
        const b = accountBucket(id);
        expect(Number.isInteger(b) && b >= 0 && b < BUCKETS).toBe(true);
        expect(accountBucket(id)).toBe(b);
      }),
    );
  });

  it('spreads sequential ids evenly: a 10 % share holds about 10 % of them', () => {
    const ids = Array.from({ length: 20_000 }, (_, i) => `acc-${i}`);
    const share = ids.filter((id) => inCanary(id, 1_000)).length / ids.length;
    expect(share).toBeGreaterThan(0.09);
    expect(share).toBeLessThan(0.11);
    // Deciles of buckets are about equal.
    const deciles = Array<number>(10).fill(0);
    for (const id of ids) {
      const d = Math.floor(accountBucket(id) / 1_000);
      deciles[d] = (deciles[d] ?? 0) + 1;
    }
    for (const d of deciles) expect(Math.abs(d - 2_000)).toBeLessThan(200);
  });

  it('keeps an account in the canary as the share grows', () => {
    fc.assert(
      fc.property(fc.string(), fc.integer({ min: 1, max: BUCKETS }), fc.integer({ min: 1, max: BUCKETS }), (id, a, b) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        if (inCanary(id, lo)) expect(inCanary(id, hi)).toBe(true);
      }),
    );
    expect(inCanary('anyone', BUCKETS)).toBe(true);
  });
});

describe('parseShare', () => {
  it('reads percentages and fractions as basis points', () => {
    expect(['10%', '2.5%', '100%', '0.1', '1', ' 50 % '].map(parseShare)).toEqual([1_000, 250, 10_000, 1_000, 10_000, 5_000]);
    expect(['0%', '0', '101%', '1.5', '-5%', 'ten', '', '0.001%'].map(parseShare)).toEqual([
      null,
      null,
      null,
      null,
      null,
      null,
      null,
      null,
    ]);
  });
});
