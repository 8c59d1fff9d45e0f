import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_WINDOWS,
  WELFORD_EMPTY,
  aggregateBruteForce,
  bucketStart,
  bucketTtlMs,
  distanceKm,
  inWindow,
  observe,
  speedKmh,
  welfordAdd,
  welfordStd,
  windowBuckets,
  type Watermark,
  type WindowEvent,
} from './windows.ts';

const [oneMinute, oneHour] = DEFAULT_WINDOWS as [(typeof DEFAULT_WINDOWS)[number], (typeof DEFAULT_WINDOWS)[number]];
const T0 = Date.parse('2026-01-01T00:00:00Z');

describe('buckets and windows', () => {
  it('puts an event in the bucket that starts at or before it', () => {
    expect(bucketStart(T0 + 4_999, 5_000)).toBe(T0);
    expect(bucketStart(T0 + 5_000, 5_000)).toBe(T0 + 5_000);
  });

  it('covers exactly length/bucket buckets, newest first', () => {
    const b = windowBuckets(T0 + 61_000, oneMinute);
    expect(b).toHaveLength(12);
    expect(b[0]).toBe(T0 + 60_000);
    expect(b[11]).toBe(T0 + 5_000);
  });

  it('counts an event only in windows that cover its bucket, never in the past of it', () => {
    expect(inWindow(T0, T0, oneMinute)).toBe(true);
    expect(inWindow(T0, T0 + 59_999, oneMinute)).toBe(true);
    expect(inWindow(T0, T0 + 60_000, oneMinute)).toBe(false);
    // Bucket granularity: an event later in the same bucket counts; one in a later bucket does not.
    expect(inWindow(T0 + 1_000, T0, oneMinute)).toBe(true);
    expect(inWindow(T0 + 5_000, T0, oneMinute)).toBe(false);
    expect(inWindow(T0, T0 + 3_599_999, oneHour)).toBe(true);
  });

  it('keeps buckets long enough for every window that can still read them', () => {
    for (const w of DEFAULT_WINDOWS) expect(bucketTtlMs(w, 60_000)).toBeGreaterThan(w.lengthMs);
  });

  it('gives the same aggregate whatever order the events arrive in (property)', () => {
    const event = fc.record({
      eventTime: fc.integer({ min: T0, max: T0 + 7_200_000 }),
      amountMinor: fc.integer({ min: 1, max: 1_000_000 }),
      merchantId: fc.constantFrom('m1', 'm2', 'm3'),
      country: fc.constantFrom('GB', 'DE'),
    });
    fc.assert(
      fc.property(
        fc.array(event, { maxLength: 50 }),
        fc.integer({ min: T0, max: T0 + 7_200_000 }),
        (events: WindowEvent[], at) => {
          const shuffled = [...events].reverse();
          for (const w of DEFAULT_WINDOWS)
            expect(aggregateBruteForce(shuffled, at, w)).toEqual(aggregateBruteForce(events, at, w));
        },
      ),
    );
  });
});

describe('watermark', () => {
  it('flags events older than max event time minus lateness, without moving the watermark back', () => {
    let w: Watermark = { maxEventTime: Number.NEGATIVE_INFINITY, allowedLatenessMs: 10_000 };
    const seen: boolean[] = [];
    for (const t of [T0 + 20_000, T0 + 12_000, T0 + 9_999, T0 + 30_000, T0 + 19_000]) {
      const r = observe(w, t);
      seen.push(r.late);
      w = r.next;
    }
    expect(seen).toEqual([false, false, true, false, true]);
    expect(w.maxEventTime).toBe(T0 + 30_000);
  });
});

describe('running statistics and travel', () => {
  it('Welford matches the two-pass mean and sample deviation', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 10_000_000 }), { minLength: 2, maxLength: 200 }), (xs) => {
        const s = xs.reduce(welfordAdd, WELFORD_EMPTY);
        const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
        const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1);
        expect(s.mean).toBeCloseTo(mean, 6);
        expect(welfordStd(s)).toBeCloseTo(Math.sqrt(variance), 4);
      }),
    );
  });

  it('measures London–New York at about 5,570 km, and a one-hour hop as an impossible speed', () => {
    const d = distanceKm(51.5074, -0.1278, 40.7128, -74.006);
    expect(d).toBeGreaterThan(5_550);
    expect(d).toBeLessThan(5_590);
    expect(speedKmh(d, T0, T0 + 3_600_000)).toBeGreaterThan(1_000);
    expect(speedKmh(0, T0, T0)).toBe(0);
    expect(speedKmh(10, T0, T0)).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('lateFlags', () => {
  it('continues from a persisted max event time exactly as one pass would (property)', async () => {
    const { lateFlags } = await import('./windows.ts');
    fc.assert(
      fc.property(fc.array(fc.integer({ min: T0, max: T0 + 86_400_000 }), { maxLength: 100 }), fc.nat(100), (times, cut) => {
        const split = Math.min(cut, times.length);
        const whole = lateFlags(times, Number.NEGATIVE_INFINITY, 600_000);
        const first = lateFlags(times.slice(0, split), Number.NEGATIVE_INFINITY, 600_000);
        const rest = lateFlags(times.slice(split), first.maxEventTime, 600_000);
        expect([...first.flags, ...rest.flags]).toEqual(whole.flags);
        expect(rest.maxEventTime).toBe(whole.maxEventTime);
      }),
    );
  });
});
