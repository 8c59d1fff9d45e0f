import { describe, expect, it } from 'vitest';
import {
  entityFeatureNames,
  entityFeaturesBruteForce,
  featureArray,
  flattenFeatures,
  parseEntityFeatures,
  type EntityEvent,
} from './entity-features.ts';
import type { WindowSpec } from './windows.ts';

const W: WindowSpec[] = [{ name: '1m', lengthMs: 60_000, bucketMs: 10_000 }];
const ev = (over: Partial<EntityEvent>): EntityEvent => ({
  eventTime: 0,
  amountMinor: 100,
  merchantId: 'A',
  country: 'US',
  lat: null,
  lon: null,
  late: false,
  ...over,
});

describe('entityFeaturesBruteForce', () => {
  const f = entityFeaturesBruteForce(
    [
      ev({ eventTime: 0, amountMinor: 100, lat: 0, lon: 0 }),
      ev({ eventTime: 30_000, amountMinor: 200, merchantId: 'B', country: 'FR', lat: 0, lon: 1 }),
      ev({ eventTime: 70_000, amountMinor: 300 }),
      ev({ eventTime: 5_000, amountMinor: 999, late: true }),
      ev({ eventTime: 65_000, amountMinor: null, merchantId: 'C' }),
    ],
    W,
  );

  it('counts, sums and distinct counts over the window at the head', () => {
    expect(f.map((x) => x.windows[0])).toEqual([
      { count: 1, sumMinor: 100, distinctMerchants: 1, distinctCountries: 1 },
      { count: 2, sumMinor: 300, distinctMerchants: 2, distinctCountries: 2 },
      // head 70 s: buckets after 10 s only, so the event at 0 s slid out
      { count: 2, sumMinor: 500, distinctMerchants: 2, distinctCountries: 2 },
      // late: not applied, sees the state as it stands
      { count: 2, sumMinor: 500, distinctMerchants: 2, distinctCountries: 2 },
      // out of order within the window: counted; unknown amount adds nothing to the sum
      { count: 3, sumMinor: 500, distinctMerchants: 3, distinctCountries: 2 },
    ]);
  });

  it('keeps running amount statistics of applied events with a known amount', () => {
    expect(f.map((x) => x.amountN)).toEqual([1, 2, 3, 3, 3]);
    expect(f[1]?.amountMean).toBe(150);
    expect(f[1]?.amountStd).toBeCloseTo(70.7107, 4);
    expect(f[2]?.amountStd).toBe(100);
  });

  it('measures time since the head and travel from the latest located event', () => {
    expect(f.map((x) => x.sincePrevMs)).toEqual([null, 30_000, 40_000, -65_000, -5_000]);
    expect(f[1]?.travelKm).toBeCloseTo(111.19, 1);
    expect(f[1]?.travelKmh).toBeCloseTo(111.19 * 120, -1);
    expect(f[2]?.travelKm).toBeNull(); // no location on this event
  });
});

describe('feature arrays', () => {
  it('read from the scripts arrays and flatten to named values', () => {
    const parsed = parseEntityFeatures([2, 500, 2, 2, 3, 200, 100, 40000, null, null], 1);
    expect(parsed.windows[0]).toEqual({ count: 2, sumMinor: 500, distinctMerchants: 2, distinctCountries: 2 });
    const flat = flattenFeatures('card', parsed, W);
    expect(Object.keys(flat)).toEqual(entityFeatureNames('card', W));
    expect(flat).toMatchObject({
      card_count_1m: 2,
      card_sum_1m: 500,
      card_amount_std: 100,
      card_since_prev_ms: 40_000,
      card_travel_km: null,
    });
    expect(Object.values(flattenFeatures('device', null, W)).every((v) => v === null)).toBe(true);
  });

  it('featureArray writes back exactly the array parseEntityFeatures read', () => {
    const raw = [2, 500, 2, 2, 3, 200.5, 100.25, -1500, 12.5, 45];
    expect(featureArray(parseEntityFeatures(raw, 1))).toEqual(raw);
    const first = [1, 0, 1, 1, 0, 0, 0, null, null, null];
    expect(featureArray(parseEntityFeatures(first, 1))).toEqual(first);
  });

  it('rejects an array of the wrong length', () => {
    expect(() => parseEntityFeatures([1, 2, 3], 1)).toThrow(/expected 10/);
  });
});
