import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Rng } from './rng.ts';

const draw = (seed: number, n: number): number[] => {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => rng.uint32());
};

describe('Rng', () => {
  it('is deterministic for a seed and differs across seeds', () => {
    expect(draw(42, 100)).toEqual(draw(42, 100));
    expect(draw(42, 100)).not.toEqual(draw(43, 100));
    expect(draw(1, 10)).not.toEqual(draw(1 + 2 ** 32, 10));
  });

  it('int stays within its inclusive bounds', () => {
    fc.assert(
      fc.property(fc.integer(), fc.integer({ min: -1000, max: 1000 }), fc.integer({ min: 0, max: 1000 }), (seed, lo, width) => {
        const rng = new Rng(seed);
        for (let i = 0; i < 20; i++) {
          const x = rng.int(lo, lo + width);
          expect(Number.isInteger(x) && x >= lo && x <= lo + width).toBe(true);
        }
      }),
    );
  });

  it('samples have about the right moments', () => {
    const rng = new Rng(7);
    const n = 20_000;
    let sum = 0;
    let sumSq = 0;
    let hits = 0;
    for (let i = 0; i < n; i++) {
      const x = rng.normal(10, 2);
      sum += x;
      sumSq += x * x;
      if (rng.chance(0.25)) hits++;
    }
    const mean = sum / n;
    expect(mean).toBeCloseTo(10, 1);
    expect(Math.sqrt(sumSq / n - mean * mean)).toBeCloseTo(2, 1);
    expect(hits / n).toBeGreaterThan(0.23);
    expect(hits / n).toBeLessThan(0.27);
    expect(rng.lognormal(0, 1)).toBeGreaterThan(0);
  });

  it('pick, hex and shuffle behave', () => {
    const rng = new Rng(3);
    expect(['a', 'b', 'c']).toContain(rng.pick(['a', 'b', 'c']));
    expect(() => rng.pick([])).toThrow(RangeError);
    expect(rng.hex(24)).toMatch(/^[0-9a-f]{24}$/);
    const items = Array.from({ length: 50 }, (_, i) => i);
    const shuffled = rng.shuffle([...items]);
    expect(shuffled).not.toEqual(items);
    expect([...shuffled].sort((a, b) => a - b)).toEqual(items);
  });
});
