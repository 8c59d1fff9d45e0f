import { describe, expect, it } from 'vitest';
import { boundedCache, rateAt } from './cache.ts';

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

describe('boundedCache', () => {
  it('keeps at most its entries, evicting the least recently used', () => {
    const c = boundedCache<string, number>(3, 60_000);
    for (const [k, v] of [
      ['a', 1],
      ['b', 2],
      ['c', 3],
    ] as const)
      c.set(k, v);
    expect(c.get('a')).toBe(1); // a is now the most recently used; b the least
    c.set('d', 4);
    expect(c.size).toBe(3);
    expect(c.has('b')).toBe(false);
    expect([...c.keys()].sort()).toEqual(['a', 'c', 'd']);
    for (let i = 0; i < 1_000; i++) c.set(`k${i}`, i);
    expect(c.size).toBe(3);
    expect([...c.keys()].sort()).toEqual(['k997', 'k998', 'k999']);
  });

  it('expires entries after the TTL', async () => {
    const c = boundedCache<string, number>(10, 20);
    c.set('a', 1);
    expect(c.get('a')).toBe(1);
    await new Promise((r) => setTimeout(r, 40));
    expect(c.get('a')).toBeUndefined();
  });
});
