import { describe, expect, it } from 'vitest';
import { rateAt } from './cache.ts';

describe('rateAt', () => {
  it('picks the latest rate valid at the event time, deterministically', () => {
    const h = [
      { validFrom: 100, rate: '1.1' },
      { validFrom: 200, rate: '1.2' },
    ];
    expect(rateAt(h, 99)).toBeUndefined();
    expect(rateAt(h, 100)).toBe('1.1');
    expect(rateAt(h, 199)).toBe('1.1');
    expect(rateAt(h, 10_000)).toBe('1.2');
  });
});
