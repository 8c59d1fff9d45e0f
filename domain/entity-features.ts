/**
 * Windowed features of one entity (account, card, merchant, device), pure. This is the reference
 * the window engine (state/window-engine.ts) is tested against: it recomputes every feature from the
 * whole event history by brute force, where the engine updates incrementally.
 *
 * Semantics (the engine follows them exactly):
 * - The entity's head is the highest event time applied so far; windows are evaluated at the head,
 *   so an out-of-order event (within lateness) lands in its own bucket and is seen at the head.
 * - Late events (older than their partition's watermark) and stale ones (outside the largest window
 *   at the head) are never applied: they get the features as they stand, without themselves.
 * - Running amount statistics (Welford) take every applied event with a known base amount.
 * - "Previous" is the head before this event; travel is measured from the latest located event.
 */
import { bucketStart, distanceKm, type WindowSpec, welfordAdd, welfordStd, WELFORD_EMPTY } from './windows.ts';

export interface EntityEvent {
  eventTime: number;
  /** Base-currency integer minor units; null when no FX rate was known (counted, not summed). */
  amountMinor: number | null;
  merchantId: string;
  country: string;
  lat: number | null;
  lon: number | null;
  late: boolean;
}

export interface WindowValues {
  count: number;
  sumMinor: number;
  distinctMerchants: number;
  distinctCountries: number;
}

export interface EntityFeatures {
  windows: WindowValues[];
  amountN: number;
  amountMean: number;
  amountStd: number;
  /** Event time minus the head before this event (negative when out of order); null for the first. */
  sincePrevMs: number | null;
  travelKm: number | null;
  travelKmh: number | null;
}

/** Number of values per window and after them, in the scripts' flat feature array. */
const PER_WINDOW = 4;
const TAIL = 6;

/** Reads a script's flat feature array (decoded from its msgpack reply). */
export function parseEntityFeatures(decoded: unknown, windowCount: number): EntityFeatures {
  const expected = windowCount * PER_WINDOW + TAIL;
  if (!Array.isArray(decoded) || decoded.length !== expected)
    throw new TypeError(
      `feature array of ${Array.isArray(decoded) ? decoded.length : typeof decoded} values, expected ${expected}`,
    );
  const a = decoded as Array<number | null>;
  const num = (i: number) => a[i] as number;
  const windows = Array.from({ length: windowCount }, (_, w) => ({
    count: num(w * PER_WINDOW),
    sumMinor: num(w * PER_WINDOW + 1),
    distinctMerchants: num(w * PER_WINDOW + 2),
    distinctCountries: num(w * PER_WINDOW + 3),
  }));
  const t = windowCount * PER_WINDOW;
  return {
    windows,
    amountN: num(t),
    amountMean: num(t + 1),
    amountStd: num(t + 2),
    sincePrevMs: a[t + 3] ?? null,
    travelKm: a[t + 4] ?? null,
    travelKmh: a[t + 5] ?? null,
  };
}

/** The inverse of parseEntityFeatures: the features as the scripts' and the engine's flat array. */
export function featureArray(f: EntityFeatures): Array<number | null> {
  return [
    ...f.windows.flatMap((w) => [w.count, w.sumMinor, w.distinctMerchants, w.distinctCountries]),
    f.amountN,
    f.amountMean,
    f.amountStd,
    f.sincePrevMs,
    f.travelKm,
    f.travelKmh,
  ];
}

/** Whether a bucket of event time `t` is inside window `w` evaluated at `head`. */
function inside(t: number, head: number, w: WindowSpec): boolean {
  const n = Math.ceil(w.lengthMs / w.bucketMs);
  return bucketStart(t, w.bucketMs) > bucketStart(head, w.bucketMs) - n * w.bucketMs;
}

/**
 * Features of every event of one entity, in arrival order, by brute force over the history:
 * O(n²), for tests and audits only.
 */
export function entityFeaturesBruteForce(events: readonly EntityEvent[], windows: readonly WindowSpec[]): EntityFeatures[] {
  const applied: EntityEvent[] = [];
  let head: number | null = null;
  let welford = WELFORD_EMPTY;
  let located: EntityEvent | null = null;
  const largest = windows[windows.length - 1] as WindowSpec;
  return events.map((e) => {
    const newHead = head === null ? e.eventTime : Math.max(head, e.eventTime);
    const apply = !e.late && inside(e.eventTime, newHead, largest);
    const at = apply ? newHead : (head ?? e.eventTime);
    const pool = apply ? [...applied, e] : applied;
    const values = windows.map((w) => {
      const inWin = pool.filter((x) => inside(x.eventTime, at, w));
      return {
        count: inWin.length,
        sumMinor: inWin.reduce((s, x) => s + (x.amountMinor ?? 0), 0),
        distinctMerchants: new Set(inWin.map((x) => x.merchantId)).size,
        distinctCountries: new Set(inWin.map((x) => x.country)).size,
      };
    });
    if (apply && e.amountMinor !== null) welford = welfordAdd(welford, e.amountMinor);
    let travelKm: number | null = null;
    let travelKmh: number | null = null;
    if (located !== null && e.lat !== null && e.lon !== null) {
      travelKm = distanceKm(located.lat as number, located.lon as number, e.lat, e.lon);
      travelKmh = travelKm / Math.max(Math.abs(e.eventTime - located.eventTime) / 3_600_000, 1 / 3600);
    }
    const f: EntityFeatures = {
      windows: values,
      amountN: welford.n,
      amountMean: welford.mean,
      amountStd: welfordStd(welford),
      sincePrevMs: head === null ? null : e.eventTime - head,
      travelKm,
      travelKmh,
    };
    if (apply) {
      applied.push(e);
      head = newHead;
      if (e.lat !== null && (located === null || e.eventTime >= located.eventTime)) located = e;
    }
    return f;
  });
}

const namesCache = new Map<string, readonly string[]>();
/** The same names per windows array, found without building the string key (the ingest hot path). */
const namesByWindows = new WeakMap<readonly WindowSpec[], Map<string, readonly string[]>>();

/** Feature names of one entity kind over the given windows, in flattenFeatures order (cached). */
export function entityFeatureNames(kind: string, windows: readonly WindowSpec[]): readonly string[] {
  let byKind = namesByWindows.get(windows);
  const hit = byKind?.get(kind);
  if (hit) return hit;
  if (!byKind) namesByWindows.set(windows, (byKind = new Map()));
  const cacheKey = `${kind}|${windows.map((w) => w.name).join(',')}`;
  const cached = namesCache.get(cacheKey);
  if (cached) {
    byKind.set(kind, cached);
    return cached;
  }
  const names: string[] = [];
  for (const w of windows)
    names.push(
      `${kind}_count_${w.name}`,
      `${kind}_sum_${w.name}`,
      `${kind}_distinct_merchants_${w.name}`,
      `${kind}_distinct_countries_${w.name}`,
    );
  names.push(
    `${kind}_amount_n`,
    `${kind}_amount_mean`,
    `${kind}_amount_std`,
    `${kind}_since_prev_ms`,
    `${kind}_travel_km`,
    `${kind}_travel_kmh`,
  );
  namesCache.set(cacheKey, Object.freeze(names));
  byKind.set(kind, names);
  return names;
}

/**
 * One entity's features as named values (null everywhere when the entity is absent, e.g. no
 * device), written into `into` (a snapshot assembled from several entities) and returned.
 */
export function flattenFeatures(
  kind: string,
  f: EntityFeatures | null,
  windows: readonly WindowSpec[],
  into: Record<string, unknown> = {},
): Record<string, unknown> {
  const names = entityFeatureNames(kind, windows);
  if (f === null) {
    for (const n of names) into[n] = null;
    return into;
  }
  let i = 0;
  for (const w of f.windows) {
    into[names[i++] as string] = w.count;
    into[names[i++] as string] = w.sumMinor;
    into[names[i++] as string] = w.distinctMerchants;
    into[names[i++] as string] = w.distinctCountries;
  }
  into[names[i++] as string] = f.amountN;
  into[names[i++] as string] = f.amountMean;
  into[names[i++] as string] = f.amountStd;
  into[names[i++] as string] = f.sincePrevMs;
  into[names[i++] as string] = f.travelKm;
  into[names[i++] as string] = f.travelKmh;
  return into;
}
