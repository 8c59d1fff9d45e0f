/**
 * Event-time window arithmetic (pure). Windows slide in whole buckets: a window of length W with
 * buckets of size B at time t covers the buckets whose start lies in (bucket(t) - W, bucket(t)].
 * The Redis scripts of the stateful core keep one counter set per bucket; this module is the
 * reference they are tested against, and what the brute-force recomputation uses.
 */

export interface WindowSpec {
  /** Name used in feature names and keys, e.g. "1m". */
  name: string;
  lengthMs: number;
  bucketMs: number;
}

/** The default windows: 1 minute in 5 s buckets, 1 hour in 1 min buckets, 24 hours in 15 min buckets. */
export const DEFAULT_WINDOWS: readonly WindowSpec[] = Object.freeze([
  { name: '1m', lengthMs: 60_000, bucketMs: 5_000 },
  { name: '1h', lengthMs: 3_600_000, bucketMs: 60_000 },
  { name: '24h', lengthMs: 86_400_000, bucketMs: 900_000 },
]);

/** Start (ms) of the bucket holding `eventTime`. */
export function bucketStart(eventTime: number, bucketMs: number): number {
  return Math.floor(eventTime / bucketMs) * bucketMs;
}

/** Bucket starts a window covers at `at`, newest first. */
export function windowBuckets(at: number, w: WindowSpec): number[] {
  const newest = bucketStart(at, w.bucketMs);
  const n = Math.ceil(w.lengthMs / w.bucketMs);
  return Array.from({ length: n }, (_, i) => newest - i * w.bucketMs);
}

/** Whether an event at `eventTime` counts in window `w` evaluated at `at` (never the future). */
export function inWindow(eventTime: number, at: number, w: WindowSpec): boolean {
  const b = bucketStart(eventTime, w.bucketMs);
  const newest = bucketStart(at, w.bucketMs);
  return b <= newest && b > newest - Math.ceil(w.lengthMs / w.bucketMs) * w.bucketMs;
}

/** How long a bucket must live so every window that can still see it can read it, plus the lateness. */
export function bucketTtlMs(w: WindowSpec, allowedLatenessMs: number): number {
  return Math.ceil(w.lengthMs / w.bucketMs) * w.bucketMs + w.bucketMs + allowedLatenessMs;
}

/**
 * Per-partition event-time watermark: the highest event time seen minus the allowed lateness.
 * An event older than the watermark is late: counted and flagged, never merged into windows.
 */
export interface Watermark {
  maxEventTime: number;
  allowedLatenessMs: number;
}

export function watermarkOf(w: Watermark): number {
  return w.maxEventTime === Number.NEGATIVE_INFINITY ? Number.NEGATIVE_INFINITY : w.maxEventTime - w.allowedLatenessMs;
}

/** Classifies an event against the watermark and advances it; returns the new state (no mutation). */
export function observe(w: Watermark, eventTime: number): { late: boolean; next: Watermark } {
  const late = eventTime < watermarkOf(w);
  return { late, next: late ? w : { ...w, maxEventTime: Math.max(w.maxEventTime, eventTime) } };
}

/** Running mean and variance (Welford), exact enough for features; never used for money sums. */
export interface Welford {
  n: number;
  mean: number;
  m2: number;
}

export const WELFORD_EMPTY: Welford = Object.freeze({ n: 0, mean: 0, m2: 0 });

export function welfordAdd(s: Welford, x: number): Welford {
  const n = s.n + 1;
  const delta = x - s.mean;
  const mean = s.mean + delta / n;
  return { n, mean, m2: s.m2 + delta * (x - mean) };
}

/** Sample standard deviation (0 for fewer than two values). */
export function welfordStd(s: Welford): number {
  return s.n < 2 ? 0 : Math.sqrt(s.m2 / (s.n - 1));
}

/** Great-circle distance in km (haversine). */
export function distanceKm(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const rad = Math.PI / 180;
  const dLat = (lat2 - lat1) * rad;
  const dLon = (lon2 - lon1) * rad;
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371.0088 * Math.asin(Math.min(1, Math.sqrt(a)));
}

/** Travel speed in km/h between two located events; Infinity for a distance covered in no time. */
export function speedKmh(distance: number, fromMs: number, toMs: number): number {
  const hours = Math.abs(toMs - fromMs) / 3_600_000;
  if (hours === 0) return distance === 0 ? 0 : Number.POSITIVE_INFINITY;
  return distance / hours;
}

export interface WindowEvent {
  eventTime: number;
  /** Integer minor units (base currency): sums stay exact integers. */
  amountMinor: number;
  merchantId: string;
  country: string;
}

export interface WindowAggregate {
  count: number;
  sumMinor: number;
  distinctMerchants: number;
  distinctCountries: number;
}

/**
 * Brute-force aggregate of the non-late events in window `w` at `at`: the reference the Redis
 * implementation must equal, whatever order the events arrived in.
 */
export function aggregateBruteForce(events: readonly WindowEvent[], at: number, w: WindowSpec): WindowAggregate {
  const inside = events.filter((e) => inWindow(e.eventTime, at, w));
  return {
    count: inside.length,
    sumMinor: inside.reduce((s, e) => s + e.amountMinor, 0),
    distinctMerchants: new Set(inside.map((e) => e.merchantId)).size,
    distinctCountries: new Set(inside.map((e) => e.country)).size,
  };
}

/**
 * Late flags of a partition's records in offset order, from the max event time seen before them
 * (persisted with the committed offset, so a replay starts from the same point). Pure.
 */
export function lateFlags(
  eventTimes: readonly number[],
  startMaxEventTime: number,
  allowedLatenessMs: number,
): { flags: boolean[]; maxEventTime: number } {
  let w: Watermark = { maxEventTime: startMaxEventTime, allowedLatenessMs };
  const flags = eventTimes.map((t) => {
    const r = observe(w, t);
    w = r.next;
    return r.late;
  });
  return { flags, maxEventTime: w.maxEventTime };
}
