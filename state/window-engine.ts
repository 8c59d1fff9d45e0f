/**
 * The windows of ONE entity (account, card, merchant, device) in memory, so the ingest process
 * applies events without a Redis call per transaction (issue 17; it replaced the Lua design's
 * window-core.lua, whose semantics it kept). Pure: no client, no environment. docs/state.md
 * explains the semantics, contributions and views.
 *
 * apply() follows the reference, domain/entity-features.ts, exactly:
 * - the head is the highest event time applied; windows are evaluated at the head, bucketed by
 *   event time (bucket index = floor(time / bucketMs)); when the head enters a new bucket of a
 *   window, the buckets that fell out of that window are dropped and the members whose newest
 *   event time fell out no longer count (the distinct counts are the live members);
 * - a late event (flagged by its partition's watermark) or a stale one (outside the largest window
 *   at the head it would make) only reads: it gets the features as they stand, without itself;
 * - merchants and countries keep the newest event time applied with them (their bucket in each
 *   window follows from it); amounts are counted always,
 *   summed when known (exact integers); amount n/mean/std are Welford over every applied event with
 *   a known amount; "since previous" is measured from the head before the event; travel from the
 *   latest located event by event time (under 1 s apart counts as 1 s).
 *
 * Each entity's state is a set of contributions, one per source partition (see docs/state.md):
 * merge() joins them into a view. Bucket counts and sums add per bucket index, members keep the
 * newest event time, the head is the maximum, amount statistics combine by Chan's parallel formula
 * and the latest located event is the one with the greater event time; then what lies outside each
 * window at the merged head is dropped. The windows of a merge (counts, sums, distinct counts, head)
 * are those of all the contributions' applied events evaluated at the merged head, whatever the
 * order of the merges; amount statistics agree up to rounding.
 *
 * Buckets are kept per window in one array of (index, count, sum) triples sorted by bucket index
 * (events nearly always land in the newest bucket, so adding is a push or an increment, and
 * eviction drops a prefix): an account with 50 events a day keeps ~50 live buckets (150 numbers),
 * where fixed rings of every bucket slot would keep 504 per entity. Merchants and countries are
 * kept once per entity, not per window: member -> the newest event time applied with it, from
 * which each window's liveness and bucket follow (bench/state-engine.ts prints the heap a state keeps).
 */
import type { EntityEvent } from '../domain/entity-features.ts';
import { distanceKm, type WindowSpec } from '../domain/windows.ts';

/** Values per window, then after them, in the flat feature array (domain/entity-features.ts layout). */
export const PER_WINDOW = 4;
export const TAIL = 6;

/** Length of one entity's flat feature array over `windowCount` windows. */
export function featureLength(windowCount: number): number {
  return windowCount * PER_WINDOW + TAIL;
}

/**
 * Where features are written: a plain array (unknown values as null, parseEntityFeatures reads it)
 * or a Float64Array (unknown values as NaN: a snapshot vector of several entities, no allocation).
 */
export type FeatureSink = Array<number | null> | Float64Array;

/** One window's live buckets and distinct counts, evaluated at the entity's head. */
export interface WindowBuckets {
  /** Count and sum of the live buckets. */
  count: number;
  sum: number;
  /**
   * Live buckets: the first `size` triples of `b` (bucket index, count, sum at 3k, 3k + 1, 3k + 2),
   * bucket indexes ascending. Entries past them are left over from eviction and mean nothing: the
   * array keeps its capacity, so a window that empties and refills reallocates nothing. One array
   * per window, not three: each array costs its header and its growth slack.
   */
  size: number;
  readonly b: number[];
  /**
   * Live members of the entity's merchant and country maps in this window (the distinct counts): a
   * member is live in the window when its newest applied event time is at or after the window's
   * oldest live bucket's start.
   */
  distinctMerchants: number;
  distinctCountries: number;
  /**
   * A lower bound of the newest event times of the members live in this window (+Infinity: none
   * live; -Infinity: unknown, after a decode). While the window's oldest live bucket
   * starts at or before it no member can have expired, so eviction skips counting: most evictions
   * of the 24 h window (a member's time rarely leaves it) and nearly all of the countries.
   */
  merchantFloor: number;
  countryFloor: number;
}

/** A window's geometry as the Lua takes it: bucket size and number of buckets. */
export interface WindowGeometry {
  bucketMs: number;
  buckets: number;
}

export function geometryOf(windows: readonly WindowSpec[]): WindowGeometry[] {
  if (windows.length === 0) throw new RangeError('at least one window is needed');
  return windows.map((w) => ({ bucketMs: w.bucketMs, buckets: Math.ceil(w.lengthMs / w.bucketMs) }));
}

function emptyWindow(): WindowBuckets {
  return {
    count: 0,
    sum: 0,
    size: 0,
    b: [],
    distinctMerchants: 0,
    distinctCountries: 0,
    merchantFloor: Number.POSITIVE_INFINITY,
    countryFloor: Number.POSITIVE_INFINITY,
  };
}

/**
 * The unit members' times are kept in: the greatest common divisor of the bucket sizes (5 s with
 * the default windows), so every bucket start is a whole number of ticks and a member's bucket in
 * each window follows from its tick exactly. With the default windows event times in ticks are
 * small integers (Smis, below 2^31 until the year 2310), where
 * times in ms would be boxed doubles in a Map: 16 bytes allocated per set and kept per member.
 */
export function tickOf(geometry: readonly WindowGeometry[]): number {
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  return geometry.reduce((t, g) => gcd(t, g.bucketMs), 0);
}

/** Start, in ticks, of the oldest live bucket of a window whose newest bucket holds `head` (ms). */
export function startTick(head: number, g: WindowGeometry, tick: number): number {
  return (Math.floor(head / g.bucketMs) - g.buckets + 1) * (g.bucketMs / tick);
}

// Counting live members: one pass over a member map for every window whose count is due, with the
// bounds in module state (Map.forEach with a callback that closes over nothing allocates nothing,
// where for-of over the entries made an array per member).
let due = 0;
/** Per window being counted: its oldest live bucket's start, its live members, their smallest time. */
const dueStart: number[] = [];
const dueLive: number[] = [];
const dueFloor: number[] = [];
/** Members live in some window: at or after the smallest start of all windows. */
let anyStart = 0;
let anyLive = 0;
function countMember(t: number): void {
  if (t >= anyStart) anyLive++;
  for (let i = 0; i < due; i++) {
    if (t >= (dueStart[i] as number)) {
      dueLive[i] = (dueLive[i] as number) + 1;
      if (t < (dueFloor[i] as number)) dueFloor[i] = t;
    }
  }
}
function dropDead(t: number, member: string, members: Map<string, number>): void {
  if (t < anyStart) members.delete(member);
}

/**
 * Moves the triples k..n-1 of a bucket array to the front, keeping the array's length.
 * (Array.prototype.copyWithin takes V8's generic path and boxes every double, and shortening the
 * array gave up its backing store, to be reallocated by the next push.)
 */
function dropPrefix(b: number[], k: number, n: number): void {
  for (let i = 3 * k; i < 3 * n; i++) b[i - 3 * k] = b[i] as number;
}

/** Drops the buckets before bucket `oldest` (the oldest live one) from a window. */
function evictBuckets(x: WindowBuckets, oldest: number): void {
  const b = x.b;
  const n = x.size;
  let k = 0;
  while (k < n && (b[3 * k] as number) < oldest) {
    x.count -= b[3 * k + 1] as number;
    x.sum -= b[3 * k + 2] as number;
    k++;
  }
  if (k > 0) {
    dropPrefix(b, k, n);
    x.size = n - k;
  }
}

/** Adds `n` events and `sum` to bucket `bi` (searching from the newest end, where events land). */
function addToBucket(x: WindowBuckets, bi: number, n: number, sum: number): void {
  const b = x.b;
  const size = x.size;
  let j = size - 1;
  while (j >= 0 && (b[3 * j] as number) > bi) j--;
  if (j >= 0 && b[3 * j] === bi) {
    b[3 * j + 1] = (b[3 * j + 1] as number) + n;
    b[3 * j + 2] = (b[3 * j + 2] as number) + sum;
  } else {
    // Shift the newer buckets up one (rare: events nearly always land in the newest bucket).
    for (let i = 3 * size + 2; i > 3 * j + 5; i--) b[i] = b[i - 3] as number;
    b[3 * j + 3] = bi;
    b[3 * j + 4] = n;
    b[3 * j + 5] = sum;
    x.size = size + 1;
  }
  x.count += n;
  x.sum += sum;
}

// Scratch array of mergeBuckets, reused so a merge allocates nothing once it has grown.
const merged: number[] = [];

/** Adds y's buckets to x's: one pass over both sorted lists (merge join), equal indexes summed. */
function mergeBuckets(x: WindowBuckets, y: WindowBuckets): void {
  const xb = x.b;
  const yb = y.b;
  let i = 0;
  let j = 0;
  let n = 0;
  while (i < x.size || j < y.size) {
    const xi = i < x.size ? (xb[3 * i] as number) : Number.POSITIVE_INFINITY;
    const yi = j < y.size ? (yb[3 * j] as number) : Number.POSITIVE_INFINITY;
    const bi = Math.min(xi, yi);
    let count = 0;
    let sum = 0;
    if (xi === bi) {
      count += xb[3 * i + 1] as number;
      sum += xb[3 * i + 2] as number;
      i++;
    }
    if (yi === bi) {
      count += yb[3 * j + 1] as number;
      sum += yb[3 * j + 2] as number;
      j++;
    }
    merged[3 * n] = bi;
    merged[3 * n + 1] = count;
    merged[3 * n + 2] = sum;
    n++;
  }
  for (let k = 0; k < 3 * n; k++) xb[k] = merged[k] as number;
  x.size = n;
  x.count += y.count;
  x.sum += y.sum;
}

/**
 * One copy of each member name (a merchant id, a country) for the member maps of every entity in
 * this process: a member new to a map is stored under the pool's copy, so an active merchant is held
 * once rather than once per account, card and device that met it (each decoded record and each
 * decoded state brings its own copy: 75,000 copies of merchant ids, 2.3 MB, in a heap snapshot of
 * the ingest in the bench). Bounded: emptied when full; the maps keep the keys they hold, and later
 * members are pooled afresh.
 */
const MEMBER_POOL_MAX = 20_000;
const memberPool = new Map<string, string>();

/** The pooled copy of a member name (the same string, equal to `s`). */
export function pooledMember(s: string): string {
  const p = memberPool.get(s);
  if (p !== undefined) return p;
  if (memberPool.size >= MEMBER_POOL_MAX) memberPool.clear();
  memberPool.set(s, s);
  return s;
}

/** Keeps the newest time of a member (merge: the distinct counts are recounted after). */
function keepNewest(members: Map<string, number>, member: string, t: number): void {
  const seen = members.get(member);
  if (seen === undefined || seen < t) members.set(member, t);
}

// The windows' oldest live bucket starts at the head of the apply in progress (module scratch).
const starts: number[] = [];

/** The state of one entity's windows: one contribution, or a view merged from several. */
export class EntityWindows {
  readonly geometry: readonly WindowGeometry[];
  /** ms per tick, the unit of the member maps' times (tickOf). */
  readonly tick: number;
  /** Highest event time applied (null: nothing applied yet). */
  head: number | null = null;
  /** Running amount statistics (Welford): count, mean, sum of squared deviations. */
  amountN = 0;
  amountMean = 0;
  amountM2 = 0;
  /** Time, latitude, longitude of the latest located applied event by event time (null: none). */
  locatedAt: number | null = null;
  locatedLat = 0;
  locatedLon = 0;
  /** Per window, smallest first. */
  readonly windows: WindowBuckets[];
  /**
   * Merchant or country -> the newest event time applied with it, in ticks (floor(ms / tick)), one
   * map per kind for all the windows: a member is live in a window while that time is at or after
   * the window's oldest live bucket's start, and its newest bucket there is the bucket of that time. A member live in no
   * window is dead: it stays until dead members outnumber the others, then they are swept out
   * together, because deleting one by one made V8 rebuild the maps' tables on nearly every apply
   * (bench/state-engine.ts).
   */
  readonly merchants = new Map<string, number>();
  readonly countries = new Map<string, number>();
  /**
   * Bumped by every change (an applied event, a merge of a non-empty state): a checkpoint writes an
   * entity only when its revision moved since the last one (late and stale events change nothing).
   * In memory only: not encoded, 0 after clone() or a decode.
   */
  revision = 0;

  constructor(geometry: readonly WindowGeometry[]) {
    this.geometry = geometry;
    this.tick = tickOf(geometry);
    this.windows = geometry.map(emptyWindow);
  }

  /** An empty state over the given windows (smallest first, as in the config). */
  static of(windows: readonly WindowSpec[]): EntityWindows {
    return new EntityWindows(geometryOf(windows));
  }

  /** Length of this entity's flat feature array. */
  get featureLength(): number {
    return featureLength(this.geometry.length);
  }

  /**
   * Applies one event (unless it is late or stale: then it only reads) and writes the features after
   * it into `into` at `offset` (window-core.lua's apply_event). Returns `into`.
   */
  apply<T extends FeatureSink = Array<number | null>>(
    e: EntityEvent,
    into: T = new Array<number | null>(this.featureLength) as T,
    offset = 0,
  ): T {
    const t = e.eventTime;
    const head = this.head;
    const newHead = head === null ? t : Math.max(head, t);
    const geometry = this.geometry;
    const largest = geometry[geometry.length - 1] as WindowGeometry;
    const stale = Math.floor(t / largest.bucketMs) <= Math.floor(newHead / largest.bucketMs) - largest.buckets;
    const apply = !e.late && !stale;
    const amount = e.amountMinor;
    if (apply) {
      let countMerchants = false;
      let countCountries = false;
      for (let w = 0; w < geometry.length; w++) {
        const g = geometry[w] as WindowGeometry;
        const x = this.windows[w] as WindowBuckets;
        const newest = Math.floor(newHead / g.bucketMs);
        const oldest = newest - g.buckets + 1;
        const start = oldest * (g.bucketMs / this.tick);
        starts[w] = start;
        if (head !== null && newest > Math.floor(head / g.bucketMs)) {
          evictBuckets(x, oldest);
          if (start > x.merchantFloor) countMerchants = true;
          if (start > x.countryFloor) countCountries = true;
        }
        const bi = Math.floor(t / g.bucketMs);
        if (bi >= oldest) addToBucket(x, bi, 1, amount ?? 0);
      }
      if (countMerchants) this.countLive(this.merchants, true);
      if (countCountries) this.countLive(this.countries, false);
      const tt = Math.floor(t / this.tick);
      this.touch(this.merchants, e.merchantId, tt, true);
      this.touch(this.countries, e.country, tt, false);
      if (amount !== null) {
        const n = this.amountN + 1;
        const delta = amount - this.amountMean;
        this.amountN = n;
        this.amountMean += delta / n;
        this.amountM2 += delta * (amount - this.amountMean);
      }
    }
    const none = into instanceof Float64Array ? Number.NaN : null;
    let k = this.writeAggregates(into, offset);
    into[k++] = head === null ? (none as number) : t - head;
    if (this.locatedAt !== null && e.lat !== null && e.lon !== null) {
      const km = distanceKm(this.locatedLat, this.locatedLon, e.lat, e.lon);
      into[k++] = km;
      // Under a second apart counts as one second, so the speed stays finite.
      into[k++] = km / Math.max(Math.abs(t - this.locatedAt) / 3_600_000, 1 / 3600);
    } else {
      into[k++] = none as number;
      into[k++] = none as number;
    }
    if (apply) {
      this.revision++;
      this.head = newHead;
      if (e.lat !== null && e.lon !== null && (this.locatedAt === null || t >= this.locatedAt)) {
        this.locatedAt = t;
        this.locatedLat = e.lat;
        this.locatedLon = e.lon;
      }
    }
    return into;
  }

  /**
   * Records a member of an applied event at `t` ticks (`starts`: the windows' oldest live bucket
   * starts at the new head, in ticks): each window that holds the event and where the member was
   * not live counts it; its time becomes the newest of the two.
   */
  private touch(members: Map<string, number>, member: string, t: number, merchant: boolean): void {
    const seen = members.get(member);
    for (let w = 0; w < this.windows.length; w++) {
      const start = starts[w] as number;
      if (t < start || (seen !== undefined && seen >= start)) continue;
      const x = this.windows[w] as WindowBuckets;
      if (merchant) {
        x.distinctMerchants++;
        if (t < x.merchantFloor) x.merchantFloor = t;
      } else {
        x.distinctCountries++;
        if (t < x.countryFloor) x.countryFloor = t;
      }
    }
    if (seen === undefined) members.set(pooledMember(member), t);
    else if (seen < t) members.set(member, t);
  }

  /**
   * Counts each window's live members of one map in one pass (`starts`: at the head), with their
   * smallest time as the window's new floor; sweeps out the dead members once they outnumber the others.
   */
  private countLive(members: Map<string, number>, merchant: boolean): void {
    const n = this.windows.length;
    due = n;
    anyStart = Number.POSITIVE_INFINITY;
    anyLive = 0;
    for (let w = 0; w < n; w++) {
      const start = starts[w] as number;
      dueStart[w] = start;
      dueLive[w] = 0;
      dueFloor[w] = Number.POSITIVE_INFINITY;
      if (start < anyStart) anyStart = start;
    }
    members.forEach(countMember);
    for (let w = 0; w < n; w++) {
      const x = this.windows[w] as WindowBuckets;
      if (merchant) {
        x.distinctMerchants = dueLive[w] as number;
        x.merchantFloor = dueFloor[w] as number;
      } else {
        x.distinctCountries = dueLive[w] as number;
        x.countryFloor = dueFloor[w] as number;
      }
    }
    if (members.size > 2 * anyLive + 8) members.forEach(dropDead);
  }

  /**
   * The features at the head without an event (the dashboard's live aggregates): the windows and
   * amount statistics; since-previous and travel are unknown (null, or NaN in a Float64Array).
   */
  features<T extends FeatureSink = Array<number | null>>(
    into: T = new Array<number | null>(this.featureLength) as T,
    offset = 0,
  ): T {
    const none = (into instanceof Float64Array ? Number.NaN : null) as number;
    const k = this.writeAggregates(into, offset);
    into[k] = none;
    into[k + 1] = none;
    into[k + 2] = none;
    return into;
  }

  /** Writes the windows and amount n, mean, std; returns the next position. */
  private writeAggregates(into: FeatureSink, offset: number): number {
    let k = offset;
    for (const x of this.windows) {
      into[k++] = x.count;
      into[k++] = x.sum;
      into[k++] = x.distinctMerchants;
      into[k++] = x.distinctCountries;
    }
    const n = this.amountN;
    into[k++] = n;
    into[k++] = this.amountMean;
    into[k++] = n < 2 ? 0 : Math.sqrt(this.amountM2 / (n - 1));
    return k;
  }

  /** A window's live buckets as [bucket index, count, sum], oldest first (a copy: tests, diagnostics). */
  buckets(w: number): Array<[number, number, number]> {
    const x = this.windows[w];
    if (x === undefined) throw new RangeError(`no window ${w}`);
    const out: Array<[number, number, number]> = [];
    for (let k = 0; k < x.size; k++) out.push([x.b[3 * k] as number, x.b[3 * k + 1] as number, x.b[3 * k + 2] as number]);
    return out;
  }

  /** A window's live members of one kind with their newest bucket index there, in map order (tests, diagnostics). */
  liveMembers(w: number, kind: 'merchants' | 'countries'): Array<[string, number]> {
    const g = this.geometry[w];
    if (g === undefined) throw new RangeError(`no window ${w}`);
    if (this.head === null) return [];
    const start = startTick(this.head, g, this.tick);
    const per = g.bucketMs / this.tick;
    const out: Array<[string, number]> = [];
    for (const [m, t] of this[kind]) if (t >= start) out.push([m, Math.floor(t / per)]);
    return out;
  }

  /**
   * Merges another contribution of the same entity into this state (see the header), then drops
   * what falls outside each window at the merged head. `other` is not changed.
   */
  merge(other: EntityWindows): this {
    this.assertSameGeometry(other);
    if (other.head === null) return this;
    const head = this.head === null ? other.head : Math.max(this.head, other.head);
    let live = Number.POSITIVE_INFINITY;
    for (let w = 0; w < this.geometry.length; w++) {
      const x = this.windows[w] as WindowBuckets;
      mergeBuckets(x, other.windows[w] as WindowBuckets);
      live = Math.min(live, startTick(other.head, this.geometry[w] as WindowGeometry, this.tick));
      // The distinct counts are recounted at the merged head (evictAtHead below).
      x.merchantFloor = Number.NEGATIVE_INFINITY;
      x.countryFloor = Number.NEGATIVE_INFINITY;
    }
    // Only the other's members live in some window at its head: a dead one is dead at the merged head too.
    for (const [m, t] of other.merchants) if (t >= live) keepNewest(this.merchants, m, t);
    for (const [c, t] of other.countries) if (t >= live) keepNewest(this.countries, c, t);
    this.mergeAmounts(other);
    this.mergeLocated(other);
    this.head = head;
    this.evictAtHead();
    this.revision++;
    return this;
  }

  /** Chan et al.'s parallel combination of two Welford states (exact when either side is empty). */
  private mergeAmounts(o: EntityWindows): void {
    if (o.amountN === 0) return;
    if (this.amountN === 0) {
      this.amountN = o.amountN;
      this.amountMean = o.amountMean;
      this.amountM2 = o.amountM2;
      return;
    }
    const n = this.amountN + o.amountN;
    const delta = o.amountMean - this.amountMean;
    this.amountMean += (delta * o.amountN) / n;
    this.amountM2 += o.amountM2 + (delta * delta * this.amountN * o.amountN) / n;
    this.amountN = n;
  }

  /** The later located event wins; at equal times the greater (lat, lon), so merging commutes. */
  private mergeLocated(o: EntityWindows): void {
    if (o.locatedAt === null) return;
    const mine = this.locatedAt;
    const take =
      mine === null ||
      o.locatedAt > mine ||
      (o.locatedAt === mine &&
        (o.locatedLat > this.locatedLat || (o.locatedLat === this.locatedLat && o.locatedLon > this.locatedLon)));
    if (!take) return;
    this.locatedAt = o.locatedAt;
    this.locatedLat = o.locatedLat;
    this.locatedLon = o.locatedLon;
  }

  /** Drops from every window what lies outside it at the head, and counts the live members again. */
  private evictAtHead(): void {
    if (this.head === null) return;
    for (let w = 0; w < this.geometry.length; w++) {
      const g = this.geometry[w] as WindowGeometry;
      const oldest = Math.floor(this.head / g.bucketMs) - g.buckets + 1;
      starts[w] = oldest * (g.bucketMs / this.tick);
      evictBuckets(this.windows[w] as WindowBuckets, oldest);
    }
    this.countLive(this.merchants, true);
    this.countLive(this.countries, false);
  }

  private assertSameGeometry(o: EntityWindows): void {
    if (o === this) throw new RangeError('a window state cannot be merged into itself');
    const a = this.geometry;
    const b = o.geometry;
    if (a.length !== b.length || a.some((g, i) => g.bucketMs !== b[i]?.bucketMs || g.buckets !== b[i]?.buckets))
      throw new RangeError('cannot merge window states over different windows');
  }

  /** A deep copy (buckets and member maps are not shared). */
  clone(): EntityWindows {
    const c = new EntityWindows(this.geometry).copyOf(this);
    c.revision = 0;
    return c;
  }

  /**
   * Makes this state a deep copy of `src` (same windows), reusing its own arrays and maps: a view
   * rebuilt every refresh then allocates little. The revision is bumped (the state changed).
   */
  copyOf(src: EntityWindows): this {
    if (src === this) return this;
    this.assertSameGeometry(src);
    this.head = src.head;
    this.amountN = src.amountN;
    this.amountMean = src.amountMean;
    this.amountM2 = src.amountM2;
    this.locatedAt = src.locatedAt;
    this.locatedLat = src.locatedLat;
    this.locatedLon = src.locatedLon;
    for (let w = 0; w < src.windows.length; w++) {
      const x = src.windows[w] as WindowBuckets;
      const y = this.windows[w] as WindowBuckets;
      y.count = x.count;
      y.sum = x.sum;
      y.size = x.size;
      y.distinctMerchants = x.distinctMerchants;
      y.distinctCountries = x.distinctCountries;
      y.merchantFloor = x.merchantFloor;
      y.countryFloor = x.countryFloor;
      for (let j = 0; j < 3 * x.size; j++) y.b[j] = x.b[j] as number;
    }
    copyMembers(src.merchants, this.merchants);
    copyMembers(src.countries, this.countries);
    this.revision++;
    return this;
  }
}

/** `to` becomes a copy of `from`; entries `to` shares with it are overwritten in place, not re-added. */
function copyMembers(from: Map<string, number>, to: Map<string, number>): void {
  if (to.size > 0) for (const k of to.keys()) if (!from.has(k)) to.delete(k);
  for (const [k, t] of from) to.set(k, t);
}

/**
 * What the processor keeps of an entity it touches: its own partition's contribution (what it
 * writes to Redis, fenced) and the view it reads features from (the others' contributions, read at
 * batch start, merged with its own). Both are kept in step event by event; for an entity only this
 * partition touches (accounts, in practice cards) the view is the contribution and the features
 * are exact. The others' part of the view is as old as the batch start (docs/state.md).
 */
export class EntityView {
  readonly own: EntityWindows;
  private merged: EntityWindows | null = null;
  /** merged is a live view other partitions' views share (adopt): never rebuilt in place. */
  private shared = false;

  constructor(own: EntityWindows) {
    this.own = own;
  }

  /** The state features are read from: own alone, or own merged with the others. */
  get view(): EntityWindows {
    return this.merged ?? this.own;
  }

  /** Replaces the others' part of the view (at batch start); an empty list makes the view own alone. */
  rebase(others: readonly EntityWindows[]): void {
    // A shared live view is never rebuilt in place: the view is rebuilt from a copy of own.
    if (this.shared) {
      this.merged = null;
      this.shared = false;
    }
    const live = others.filter((o) => o.head !== null);
    if (live.length === 0) {
      this.merged = null;
      return;
    }
    // The previous view's arrays and maps are reused: a shared entity's view is rebuilt every refresh.
    const v = this.merged === null ? this.own.clone() : this.merged.copyOf(this.own);
    for (const o of live) v.merge(o);
    this.merged = v;
  }

  /**
   * Makes `live` the view: a merged state the views of every contribution of the entity share,
   * each applying its own events to it (null: own alone). Its owner keeps it equal to the merge of
   * the contributions (PartitionState's groups); a rebase detaches from it.
   */
  adopt(live: EntityWindows | null): void {
    this.merged = live;
    this.shared = live !== null;
  }

  /** Whether the view is a shared live view (adopt). */
  get isShared(): boolean {
    return this.shared;
  }

  /** Applies one event of this partition to its contribution and to the view; writes the view's features. */
  apply<T extends FeatureSink = Array<number | null>>(
    e: EntityEvent,
    into: T = new Array<number | null>(this.own.featureLength) as T,
    offset = 0,
  ): T {
    if (this.merged === null) return this.own.apply(e, into, offset);
    this.own.apply(e, into, offset);
    return this.merged.apply(e, into, offset);
  }
}
