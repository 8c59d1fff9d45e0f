/**
 * Random event streams for the window engine's property tests (unit and integration): times that
 * mostly move forward, sometimes go back (out of order) or jump past every window, late flags,
 * unknown amounts and locations, merchants and countries from small pools. Test support only.
 */
import fc from 'fast-check';
import type { EntityEvent } from '../../domain/entity-features.ts';
import { DEFAULT_WINDOWS, type WindowSpec } from '../../domain/windows.ts';

/** Small windows, so short random streams slide them often. */
export const SMALL_WINDOWS: readonly WindowSpec[] = [
  { name: '10s', lengthMs: 10_000, bucketMs: 2_000 },
  { name: '1m', lengthMs: 60_000, bucketMs: 10_000 },
];

/** A window set and the time steps that exercise it. */
export interface StreamScale {
  windows: readonly WindowSpec[];
  /** Forward step, backward step (out of order) and jump, ms. */
  step: number;
  back: number;
  jump: number;
}

export const SMALL_SCALE: StreamScale = { windows: SMALL_WINDOWS, step: 4_000, back: 15_000, jump: 200_000 };
/**
 * Windows whose buckets do not nest (3 s and 5 s): the engine keeps one newest time per member for
 * all windows, and the codec rebuilds it from each window's bucket, which must hold without nesting.
 */
export const UNNESTED_SCALE: StreamScale = {
  windows: [
    { name: '9s', lengthMs: 9_000, bucketMs: 3_000 },
    { name: '50s', lengthMs: 50_000, bucketMs: 5_000 },
  ],
  step: 4_000,
  back: 15_000,
  jump: 200_000,
};
export const DEFAULT_SCALE: StreamScale = { windows: DEFAULT_WINDOWS, step: 600_000, back: 108_000_000, jump: 100_000_000 };

const T0 = 1_700_000_000_000;

/** A random stream of one entity's events at the given scale. */
export function eventStream(scale: StreamScale, maxLength = 120): fc.Arbitrary<EntityEvent[]> {
  const gen = fc.record({
    dt: fc.oneof(
      { weight: 6, arbitrary: fc.integer({ min: 0, max: scale.step }) },
      { weight: 2, arbitrary: fc.integer({ min: -scale.back, max: 0 }) },
      { weight: 1, arbitrary: fc.integer({ min: scale.jump / 4, max: scale.jump }) },
    ),
    amount: fc.option(fc.integer({ min: 1, max: 1_000_000 }), { freq: 8 }),
    merchant: fc.integer({ min: 0, max: 4 }),
    country: fc.integer({ min: 0, max: 2 }),
    located: fc.option(fc.tuple(fc.integer({ min: -60, max: 60 }), fc.integer({ min: -170, max: 170 })), { freq: 2 }),
    late: fc.integer({ min: 0, max: 9 }).map((n) => n < 2),
  });
  return fc.array(gen, { minLength: 1, maxLength, size: 'large' }).map((gs) => {
    let t = T0;
    return gs.map((g) => {
      t = Math.max(T0, t + g.dt);
      return {
        eventTime: t,
        amountMinor: g.amount,
        merchantId: `m${g.merchant}`,
        country: ['US', 'FR', 'DE'][g.country] as string,
        lat: g.located === null ? null : g.located[0] + 0.25,
        lon: g.located === null ? null : g.located[1] + 0.5,
        late: g.late,
      };
    });
  });
}

/** Asserts two flat feature arrays are equal: integers exactly, floats within 1e-9 relative. */
export function featureMismatch(
  actual: ArrayLike<number | null>,
  expected: ArrayLike<number | null>,
  windowCount: number,
): string | null {
  if (actual.length !== expected.length) return `length ${actual.length} vs ${expected.length}`;
  const t = windowCount * 4;
  const approximate = new Set([t + 1, t + 2, t + 4, t + 5]); // mean, std, travel km, km/h
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i] ?? null;
    const e = expected[i] ?? null;
    if (a === e) continue;
    if (a === null || e === null || !approximate.has(i)) return `value ${i}: ${a} vs ${e}`;
    if (Math.abs(a - e) > 1e-9 * Math.max(1, Math.abs(e))) return `value ${i}: ${a} vs ${e}`;
  }
  return null;
}

/** An applied event without a location (hand-written streams of tests). */
export const unlocated = (eventTime: number, amountMinor: number | null, merchantId = 'm', country = 'US'): EntityEvent => ({
  eventTime,
  amountMinor,
  merchantId,
  country,
  lat: null,
  lon: null,
  late: false,
});
