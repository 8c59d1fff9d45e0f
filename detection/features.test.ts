import { describe, expect, it } from 'vitest';
import { objectSource, type FeatureSource } from '../domain/snapshot.ts';
import { DEFAULT_WINDOWS } from '../domain/windows.ts';
import { FeatureSpace, SlotMap, numericValue } from './features.ts';

describe('numericValue', () => {
  it('maps numbers, booleans and risk tiers, and anything missing to NaN', () => {
    expect([12.5, true, false, 'LOW', 'MEDIUM', 'HIGH'].map(numericValue)).toEqual([12.5, 1, 0, 0, 1, 2]);
    for (const v of [null, undefined, 'other', Infinity, {}]) expect(numericValue(v)).toBeNaN();
  });
});

describe('FeatureSpace', () => {
  it('takes its features from a snapshot object in its own order', () => {
    const space = new FeatureSpace(['hour_of_day', 'account_count_1h', 'home_country_mismatch']);
    expect(Array.from(space.fromObject({ account_count_1h: 3, hour_of_day: 22, home_country_mismatch: null }))).toEqual([
      22,
      3,
      NaN,
    ]);
  });

  it('knows which features snapshots offer, and which a model asks for in vain', () => {
    const names = FeatureSpace.available(DEFAULT_WINDOWS);
    expect(names).toContain('card_distinct_merchants_1h');
    expect(new FeatureSpace(['account_count_1h', 'account_count_7d']).missingFrom(DEFAULT_WINDOWS)).toEqual(['account_count_7d']);
    expect(() => new FeatureSpace(['a', 'a'])).toThrow(/repeat/);
  });

  it('reads sources that have slots by slot, mapped once per layout, as it reads them by name', () => {
    const reads: string[] = [];
    // A source by slot over a layout of its own, whose values differ from what `get` would say:
    // which of the two the space used shows in the vector.
    const slotted = (layout: readonly string[], values: readonly number[]): FeatureSource => ({
      names: layout,
      get: () => -1,
      at: (slot) => {
        reads.push(String(slot));
        return values[slot];
      },
    });
    const space = new FeatureSpace(['hour_of_day', 'account_count_1h', 'card_count_1h']);
    const layout = ['account_count_1h', 'hour_of_day', 'merchant_count_1h'];
    expect(Array.from(space.fromSource(slotted(layout, [3, 22, 9])))).toEqual([22, 3, NaN]);
    expect(reads).toEqual(['1', '0', '-1']);
    // Another layout: mapped again.
    expect(Array.from(space.fromSource(slotted(['card_count_1h', 'hour_of_day'], [5, 7])))).toEqual([7, NaN, 5]);
    expect(Array.from(space.fromSource(objectSource({ hour_of_day: 1, card_count_1h: 2 })))).toEqual([1, NaN, 2]);
  });
});

describe('SlotMap', () => {
  it('maps names to slots once per layout array, and gives null for a source without slots', () => {
    const map = new SlotMap(['b', 'z', 'a']);
    const layout = ['a', 'b', 'c'];
    const source: FeatureSource = { names: layout, get: () => undefined, at: () => undefined };
    const first = map.of(source);
    expect(Array.from(first ?? [])).toEqual([1, -1, 0]);
    expect(map.of({ ...source })).toBe(first);
    expect(Array.from(map.of({ ...source, names: ['z', 'b'] }) ?? [])).toEqual([1, 0, -1]);
    expect(map.of(objectSource({ a: 1 }))).toBeNull();
  });
});
