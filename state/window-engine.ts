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
 *   bucket fell out no longer count (the distinct counts are the live members);
 * - a late event (flagged by its partition's watermark) or a stale one (outside the largest window
 *   at the head it would make) only reads: it gets the features as they stand, without itself;
 * - merchants and countries keep the newest bucket index holding them; amounts are counted always,
 *   summed when known (exact integers); amount n/mean/std are Welford over every applied event with
 *   a known amount; "since previous" is measured from the head before the event; travel from the
 *   latest located event by event time (under 1 s apart counts as 1 s).
 *
 * Each entity's state is a set of contributions, one per source partition (see docs/state.md):
 * merge() joins them into a view. Bucket counts and sums add per bucket index, members keep the
 * newest bucket index, the head is the maximum, amount statistics combine by Chan's parallel formula
 * and the latest located event is the one with the greater event time; then what lies outside each
 * window at the merged head is dropped. The windows of a merge (counts, sums, distinct counts, head)
 * are those of all the contributions' applied events evaluated at the merged head, whatever the
 * order of the merges; amount statistics agree up to rounding.
 *
 * Buckets are kept per window as three parallel arrays sorted by bucket index (events nearly always
 * land in the newest bucket, so adding is a push or an increment, and eviction drops a prefix): an
 * account with 50 events a day keeps ~50 live buckets (150 numbers), where fixed rings of every
 * bucket slot would keep 504 per entity (bench/state-engine.ts prints the heap a state keeps; rings
 * were not measured).
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

/** One window's live buckets and members, evaluated at the entity's head. */
export interface WindowBuckets {
  /** Count and sum of the live buckets. */
  count: number;
  sum: number;
  /**
   * Live buckets: the first `size` entries of three parallel arrays, bucket indexes ascending with
   * their counts and sums. Entries past `size` are left over from eviction and mean nothing: the
   * arrays keep their capacity, so a window that empties and refills reallocates nothing.
   */
  size: number;
  readonly index: number[];
  readonly counts: number[];
  readonly sums: number[];
  /**
   * Merchant or country -> newest bucket index holding it. A member whose bucket has been evicted
   * (index below the window's oldest at the head) is expired: it stays until expired members
   * outnumber the live ones, then they are swept out together, because deleting one by one made
   * V8 rebuild the maps' tables on nearly every apply (bench/state-engine.ts).
   */
  readonly merchants: Map<string, number>;
  readonly countries: Map<string, number>;
  /** Live members of each map: the distinct counts. */
  distinctMerchants: number;
  distinctCountries: number;
  /**
   * A lower bound of each map's live members' bucket indexes (+Infinity: none live; -Infinity:
   * unknown, after a merge or a decode). While the window's oldest bucket stays at or below it no
   * member can have expired, so eviction skips counting the map: most evictions of the 24 h window
   * (a member's bucket rarely leaves it) and nearly all of the countries (a handful, seen often).
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
    index: [],
    counts: [],
    sums: [],
    merchants: new Map(),
    countries: new Map(),
    distinctMerchants: 0,
    distinctCountries: 0,
    merchantFloor: Number.POSITIVE_INFINITY,
    countryFloor: Number.POSITIVE_INFINITY,
  };
}

// Map.forEach with callbacks that take their bound from module state allocates nothing, where
// for-of over the entries made an array per member.
let bound = 0;
let live = 0;
/** Smallest live bucket index seen by countLive: the map's new floor. */
let floor = 0;
function countLive(bi: number): void {
  if (bi >= bound) {
    live++;
    if (bi < floor) floor = bi;
  }
}
function dropExpired(bi: number, member: string, members: Map<string, number>): void {
  if (bi < bound) members.delete(member);
}

/**
 * Counts the members whose newest bucket is at or after `oldest` (their smallest bucket is left in
 * `floor`); sweeps the others out once they outnumber them.
 */
function expire(members: Map<string, number>, oldest: number): number {
  bound = oldest;
  live = 0;
  floor = Number.POSITIVE_INFINITY;
  members.forEach(countLive);
  if (members.size > 2 * live + 8) members.forEach(dropExpired);
  return live;
}

/**
 * Moves elements k..n-1 to the front, keeping the array's length. (Array.prototype.copyWithin takes
 * V8's generic path and boxes every double, and shortening the array gave up its backing store, to
 * be reallocated by the next push: together most of apply's time and garbage in bench/state-engine.ts.)
 */
function dropPrefix(a: number[], k: number, n: number): void {
  for (let i = k; i < n; i++) a[i - k] = a[i] as number;
}

/** Drops what lies before bucket `oldest` (the oldest live one) from a window. */
function evict(x: WindowBuckets, oldest: number): void {
  const { index, counts, sums } = x;
  const n = x.size;
  let k = 0;
  while (k < n && (index[k] as number) < oldest) {
    x.count -= counts[k] as number;
    x.sum -= sums[k] as number;
    k++;
  }
  if (k > 0) {
    dropPrefix(index, k, n);
    dropPrefix(counts, k, n);
    dropPrefix(sums, k, n);
    x.size = n - k;
  }
  if (oldest > x.merchantFloor) {
    x.distinctMerchants = expire(x.merchants, oldest);
    x.merchantFloor = floor;
  }
  if (oldest > x.countryFloor) {
    x.distinctCountries = expire(x.countries, oldest);
    x.countryFloor = floor;
  }
}

/** Adds `n` events and `sum` to bucket `bi` (searching from the newest end, where events land). */
function addToBucket(x: WindowBuckets, bi: number, n: number, sum: number): void {
  const { index, counts, sums } = x;
  const size = x.size;
  let j = size - 1;
  while (j >= 0 && (index[j] as number) > bi) j--;
  if (j >= 0 && index[j] === bi) {
    counts[j] = (counts[j] as number) + n;
    sums[j] = (sums[j] as number) + sum;
  } else {
    // Shift the newer buckets up one (rare: events nearly always land in the newest bucket).
    for (let i = size; i > j + 1; i--) {
      index[i] = index[i - 1] as number;
      counts[i] = counts[i - 1] as number;
      sums[i] = sums[i - 1] as number;
    }
    index[j + 1] = bi;
    counts[j + 1] = n;
    sums[j + 1] = sum;
    x.size = size + 1;
  }
  x.count += n;
  x.sum += sum;
}

// Scratch arrays of mergeBuckets, reused so a merge allocates nothing once they have grown.
const mergedIndex: number[] = [];
const mergedCounts: number[] = [];
const mergedSums: number[] = [];

/** Adds y's buckets to x's: one pass over both sorted lists (merge join), equal indexes summed. */
function mergeBuckets(x: WindowBuckets, y: WindowBuckets): void {
  let i = 0;
  let j = 0;
  let n = 0;
  while (i < x.size || j < y.size) {
    const xi = i < x.size ? (x.index[i] as number) : Number.POSITIVE_INFINITY;
    const yi = j < y.size ? (y.index[j] as number) : Number.POSITIVE_INFINITY;
    const bi = Math.min(xi, yi);
    let count = 0;
    let sum = 0;
    if (xi === bi) {
      count += x.counts[i] as number;
      sum += x.sums[i++] as number;
    }
    if (yi === bi) {
      count += y.counts[j] as number;
      sum += y.sums[j++] as number;
    }
    mergedIndex[n] = bi;
    mergedCounts[n] = count;
    mergedSums[n++] = sum;
  }
  for (let k = 0; k < n; k++) {
    x.index[k] = mergedIndex[k] as number;
    x.counts[k] = mergedCounts[k] as number;
    x.sums[k] = mergedSums[k] as number;
  }
  x.size = n;
  x.count += y.count;
  x.sum += y.sum;
}

/** Records a member in bucket `bi` (window's oldest live bucket: `oldest`); returns 1 when it was not live, else 0. */
function touch(members: Map<string, number>, member: string, bi: number, oldest: number): number {
  const seen = members.get(member);
  if (seen !== undefined && seen >= oldest) {
    if (seen < bi) members.set(member, bi);
    return 0;
  }
  members.set(member, bi);
  return 1;
}

/** Keeps the newest bucket index of a member (merge: the distinct counts are recounted after). */
function keepNewest(members: Map<string, number>, member: string, bi: number): void {
  const seen = members.get(member);
  if (seen === undefined || seen < bi) members.set(member, bi);
}

/** The state of one entity's windows: one contribution, or a view merged from several. */
export class EntityWindows {
  readonly geometry: readonly WindowGeometry[];
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
   * Bumped by every change (an applied event, a merge of a non-empty state): a checkpoint writes an
   * entity only when its revision moved since the last one (late and stale events change nothing).
   * In memory only: not encoded, 0 after clone() or a decode.
   */
  revision = 0;

  constructor(geometry: readonly WindowGeometry[]) {
    this.geometry = geometry;
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
      for (let w = 0; w < geometry.length; w++) {
        const g = geometry[w] as WindowGeometry;
        const x = this.windows[w] as WindowBuckets;
        const newest = Math.floor(newHead / g.bucketMs);
        const oldest = newest - g.buckets + 1;
        if (head !== null && newest > Math.floor(head / g.bucketMs)) evict(x, oldest);
        const bi = Math.floor(t / g.bucketMs);
        if (bi < oldest) continue;
        addToBucket(x, bi, 1, amount ?? 0);
        if (touch(x.merchants, e.merchantId, bi, oldest) === 1) {
          x.distinctMerchants++;
          if (bi < x.merchantFloor) x.merchantFloor = bi;
        }
        if (touch(x.countries, e.country, bi, oldest) === 1) {
          x.distinctCountries++;
          if (bi < x.countryFloor) x.countryFloor = bi;
        }
      }
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

  /**
   * Merges another contribution of the same entity into this state (see the header), then drops
   * what falls outside each window at the merged head. `other` is not changed.
   */
  merge(other: EntityWindows): this {
    this.assertSameGeometry(other);
    if (other.head === null) return this;
    const head = this.head === null ? other.head : Math.max(this.head, other.head);
    for (let w = 0; w < this.geometry.length; w++) {
      const g = this.geometry[w] as WindowGeometry;
      const x = this.windows[w] as WindowBuckets;
      const y = other.windows[w] as WindowBuckets;
      mergeBuckets(x, y);
      const yOldest = Math.floor(other.head / g.bucketMs) - g.buckets + 1;
      for (const [m, bi] of y.merchants) if (bi >= yOldest) keepNewest(x.merchants, m, bi);
      for (const [c, bi] of y.countries) if (bi >= yOldest) keepNewest(x.countries, c, bi);
      // The distinct counts are recounted at the merged head (evictAtHead below).
      x.merchantFloor = Number.NEGATIVE_INFINITY;
      x.countryFloor = Number.NEGATIVE_INFINITY;
    }
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

  /** Drops from every window what lies outside it at the head. */
  private evictAtHead(): void {
    if (this.head === null) return;
    for (let w = 0; w < this.geometry.length; w++) {
      const g = this.geometry[w] as WindowGeometry;
      evict(this.windows[w] as WindowBuckets, Math.floor(this.head / g.bucketMs) - g.buckets + 1);
    }
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
      for (let j = 0; j < x.size; j++) {
        y.index[j] = x.index[j] as number;
        y.counts[j] = x.counts[j] as number;
        y.sums[j] = x.sums[j] as number;
      }
      copyMembers(x.merchants, y.merchants);
      copyMembers(x.countries, y.countries);
    }
    this.revision++;
    return this;
  }
}

/** `to` becomes a copy of `from`; entries `to` shares with it are overwritten in place, not re-added. */
function copyMembers(from: Map<string, number>, to: Map<string, number>): void {
  if (to.size > 0) for (const k of to.keys()) if (!from.has(k)) to.delete(k);
  for (const [k, bi] of from) to.set(k, bi);
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

  constructor(own: EntityWindows) {
    this.own = own;
  }

  /** The state features are read from: own alone, or own merged with the others. */
  get view(): EntityWindows {
    return this.merged ?? this.own;
  }

  /** Replaces the others' part of the view (at batch start); an empty list makes the view own alone. */
  rebase(others: readonly EntityWindows[]): void {
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
