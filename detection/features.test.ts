import { describe, expect, it } from 'vitest';
import { DEFAULT_WINDOWS } from '../domain/windows.ts';
import { FeatureSpace, numericValue } from './features.ts';

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
});
