/**
 * The window engine against the brute-force reference (domain/entity-features.ts), event by event,
 * and its merge of contributions against the brute force over all partitions' events.
 *
 * Merge precondition. The merged windows (count, sum, distinct counts) equal the brute force over
 * all events at the global head with no further condition: a partition's head is never above the
 * global one, so an event stale in its partition is stale globally, and an event a partition applied
 * that the global order would have found stale lies outside every window at the global head (the
 * windows are nested in the largest, as the default and test windows are). Amount statistics are
 * not windowed: they agree only when no event is stale relative to the global head at its arrival
 * but not to its own partition's head; the test checks them when that holds.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  entityFeaturesBruteForce,
  parseEntityFeatures,
  type EntityEvent,
  type EntityFeatures,
  featureArray,
} from '../domain/entity-features.ts';
import type { WindowSpec } from '../domain/windows.ts';
import {
  DEFAULT_SCALE,
  SMALL_SCALE,
  SMALL_WINDOWS,
  UNNESTED_SCALE,
  eventStream,
  featureMismatch,
  type StreamScale,
} from '../tests/helpers/window-streams.ts';
import { EntityView, EntityWindows, featureLength } from './window-engine.ts';

function expectFeatures(actual: ArrayLike<number | null>, expected: ArrayLike<number | null>, windowCount: number, what: string) {
  const bad = featureMismatch(actual, expected, windowCount);
  expect(bad, what).toBeNull();
}

/** The state after a stream's events, applied in order. */
function applied(events: readonly EntityEvent[], windows: readonly WindowSpec[]): EntityWindows {
  const s = EntityWindows.of(windows);
  for (const e of events) s.apply(e);
  return s;
}

/** A window's live merchants and countries, sorted (expired members may linger in the maps). */
function liveMembers(s: EntityWindows, w: number): Array<[string, number]> {
  const tagged = (kind: 'merchants' | 'countries', tag: string) =>
    s.liveMembers(w, kind).map(([k, bi]): [string, number] => [`${tag}${k}`, bi]);
  return [...tagged('merchants', 'm:'), ...tagged('countries', 'c:')].sort();
}

/** Whether each event is applied (neither late nor stale at the head it would make), in order. */
function appliedFlags(events: readonly EntityEvent[], windows: readonly WindowSpec[]): boolean[] {
  const largest = windows[windows.length - 1] as WindowSpec;
  const n = Math.ceil(largest.lengthMs / largest.bucketMs);
  let head: number | null = null;
  return events.map((e) => {
    const newHead = head === null ? e.eventTime : Math.max(head, e.eventTime);
    const ok = !e.late && Math.floor(e.eventTime / largest.bucketMs) > Math.floor(newHead / largest.bucketMs) - n;
    if (ok) head = newHead;
    return ok;
  });
}

/** An event that reads the state at its head without changing it (the brute force's view of "now"). */
const PROBE: EntityEvent = {
  eventTime: 0,
  amountMinor: null,
  merchantId: 'probe',
  country: 'XX',
  lat: null,
  lon: null,
  late: true,
};

const scales: Array<[string, StreamScale]> = [
  ['small windows', SMALL_SCALE],
  ['the default windows', DEFAULT_SCALE],
  ['windows whose buckets do not nest', UNNESTED_SCALE],
];

describe('EntityWindows.apply', () => {
  it.each(scales)('returns the brute force features for every event (%s)', (_, scale) => {
    fc.assert(
      fc.property(eventStream(scale), (events) => {
        const expected = entityFeaturesBruteForce(events, scale.windows);
        const s = EntityWindows.of(scale.windows);
        events.forEach((e, i) =>
          expectFeatures(s.apply(e), featureArray(expected[i] as EntityFeatures), scale.windows.length, `event ${i}`),
        );
      }),
      { numRuns: 200 },
    );
  });

  it('bumps the revision for applied events only (late and stale ones change nothing)', () => {
    fc.assert(
      fc.property(eventStream(SMALL_SCALE), (events) => {
        const s = EntityWindows.of(SMALL_WINDOWS);
        const flags = appliedFlags(events, SMALL_WINDOWS);
        events.forEach((e, i) => {
          const before = s.revision;
          s.apply(e);
          expect(s.revision - before, `event ${i}`).toBe(flags[i] ? 1 : 0);
        });
      }),
      { numRuns: 100 },
    );
  });

  it('writes into a Float64Array at an offset, unknown values as NaN, the rest untouched', () => {
    const s = EntityWindows.of(SMALL_WINDOWS);
    const len = featureLength(SMALL_WINDOWS.length);
    const out = new Float64Array(3 + len + 2).fill(7);
    const e: EntityEvent = {
      eventTime: 1_000,
      amountMinor: 500,
      merchantId: 'm',
      country: 'US',
      lat: null,
      lon: null,
      late: false,
    };
    s.apply(e, out, 3);
    expect([...out.subarray(0, 3)]).toEqual([7, 7, 7]);
    expect([...out.subarray(3, 3 + 8)]).toEqual([1, 500, 1, 1, 1, 500, 1, 1]);
    expect([...out.subarray(3 + 8, 3 + len)]).toEqual([1, 500, 0, NaN, NaN, NaN]);
    expect([...out.subarray(3 + len)]).toEqual([7, 7]);
  });

  it('keeps sums exact beyond 2^32 and 2^53 / 1000', () => {
    const big = 123_456_789_012_345;
    const s = EntityWindows.of(SMALL_WINDOWS);
    const e: EntityEvent = {
      eventTime: 1_000,
      amountMinor: big,
      merchantId: 'm',
      country: 'US',
      lat: null,
      lon: null,
      late: false,
    };
    s.apply(e);
    const f = parseEntityFeatures(s.apply({ ...e, amountMinor: 1 }), SMALL_WINDOWS.length);
    expect(f.windows[1]?.sumMinor).toBe(big + 1);
    expect(f.amountMean).toBe((big + 1) / 2);
  });
});

describe('member maps', () => {
  it('keep expired members only until they outnumber the live ones, so memory stays bounded', () => {
    const s = EntityWindows.of(SMALL_WINDOWS);
    let largest = 0;
    for (let i = 0; i < 2_000; i++) {
      const f = s.apply({
        eventTime: i * 3_000,
        amountMinor: 1,
        merchantId: `m${i}`,
        country: `C${i}`,
        lat: null,
        lon: null,
        late: false,
      });
      // 10 s in 2 s buckets: the events of the last 4-5 buckets are live.
      expect(f[2]).toBeLessThanOrEqual(5);
      largest = Math.max(largest, s.merchants.size, s.countries.size);
    }
    // The 1 m window holds ~20 live members; expired ones add at most live + 8 before a sweep.
    expect(largest).toBeLessThanOrEqual(2 * 21 + 9);
  });
});

describe('EntityWindows.features', () => {
  it('reads the windows and amount statistics at the head without applying anything', () => {
    fc.assert(
      fc.property(eventStream(SMALL_SCALE), (events) => {
        const s = applied(events, SMALL_WINDOWS);
        const expected = entityFeaturesBruteForce([...events, PROBE], SMALL_WINDOWS).at(-1) as EntityFeatures;
        const f = s.features();
        expectFeatures(f.slice(0, -3), featureArray(expected).slice(0, -3), SMALL_WINDOWS.length, 'at head');
        expect(f.slice(-3)).toEqual([null, null, null]);
        expect(s.features()).toEqual(f); // reading changes nothing
      }),
      { numRuns: 100 },
    );
  });
});

/** Events split at random into `k` partitions, each keeping arrival order. */
const partitioned = (scale: StreamScale) =>
  eventStream(scale, 160).chain((events) =>
    fc
      .integer({ min: 2, max: 4 })
      .chain((k) =>
        fc.tuple(
          fc.constant(events),
          fc.array(fc.integer({ min: 0, max: k - 1 }), { minLength: events.length, maxLength: events.length }),
          fc.constant(k),
        ),
      ),
  );

function split(events: readonly EntityEvent[], owner: readonly number[], k: number): EntityEvent[][] {
  const parts: EntityEvent[][] = Array.from({ length: k }, () => []);
  events.forEach((e, i) => parts[owner[i] as number]?.push(e));
  return parts;
}

describe('EntityWindows.merge', () => {
  it.each(scales)('gives the windows of all partitions at the global head (%s)', (_, scale) => {
    const W = scale.windows.length;
    fc.assert(
      fc.property(partitioned(scale), fc.infiniteStream(fc.nat()), ([events, owner, k], picks) => {
        const parts = split(events, owner, k);
        const contributions = parts.map((p) => applied(p, scale.windows));
        // Merge in a random order into an empty state.
        const order = contributions.map((c, i) => ({ c, r: picks.next().value + i / 10 })).sort((a, b) => a.r - b.r);
        const merged = EntityWindows.of(scale.windows);
        for (const { c } of order) merged.merge(c);

        const expected = featureArray(entityFeaturesBruteForce([...events, PROBE], scale.windows).at(-1) as EntityFeatures);
        const actual = merged.features();
        expect(actual.slice(0, W * 4), 'windows').toEqual(expected.slice(0, W * 4));
        const heads = contributions.map((c) => c.head).filter((h): h is number => h !== null);
        expect(merged.head).toBe(heads.length ? Math.max(...heads) : null);

        const global = appliedFlags(events, scale.windows);
        const local = parts.map((p) => appliedFlags(p, scale.windows));
        const cursor = new Array<number>(k).fill(0);
        const sameApplied = events.every((_, i) => {
          const p = owner[i] as number;
          return (local[p] as boolean[])[(cursor[p] as number)++] === global[i];
        });
        if (sameApplied) expectFeatures(actual.slice(0, -3), expected.slice(0, -3), W, 'amount statistics');
      }),
      { numRuns: 200 },
    );
  });

  it('is commutative and associative on windows and head, amount statistics within rounding', () => {
    const W = SMALL_WINDOWS.length;
    fc.assert(
      fc.property(eventStream(SMALL_SCALE, 60), eventStream(SMALL_SCALE, 60), eventStream(SMALL_SCALE, 60), (a, b, c) => {
        const [x, y, z] = [a, b, c].map((evs) => applied(evs, SMALL_WINDOWS)) as [EntityWindows, EntityWindows, EntityWindows];
        const left = x.clone().merge(y).merge(z);
        const right = x.clone().merge(y.clone().merge(z));
        const swapped = z.clone().merge(x).merge(y);
        for (const other of [right, swapped]) {
          expect(other.head).toBe(left.head);
          expect(other.features().slice(0, W * 4)).toEqual(left.features().slice(0, W * 4));
          expectFeatures(other.features(), left.features(), W, 'amount statistics');
          other.windows.forEach((w, i) => {
            expect(w.count).toBe(left.windows[i]?.count);
            expect(other.buckets(i)).toEqual(left.buckets(i));
            expect(liveMembers(other, i)).toEqual(liveMembers(left, i));
          });
        }
        expect(x.clone().merge(EntityWindows.of(SMALL_WINDOWS)).features()).toEqual(x.features()); // the empty state is neutral
      }),
      { numRuns: 200 },
    );
  });

  it('leaves the merged-in state unchanged, and clone() shares nothing', () => {
    fc.assert(
      fc.property(eventStream(SMALL_SCALE, 60), eventStream(SMALL_SCALE, 60), (a, b) => {
        const x = applied(a, SMALL_WINDOWS);
        const y = applied(b, SMALL_WINDOWS);
        const before = y.features();
        const copy = x.clone();
        copy.merge(y);
        expect(y.features()).toEqual(before);
        expect(x.features()).toEqual(applied(a, SMALL_WINDOWS).features());
      }),
      { numRuns: 100 },
    );
  });

  it('copyOf() over a used state equals clone(), and both go on alike', () => {
    const W = SMALL_WINDOWS.length;
    fc.assert(
      fc.property(eventStream(SMALL_SCALE, 60), eventStream(SMALL_SCALE, 60), eventStream(SMALL_SCALE, 30), (a, b, more) => {
        const x = applied(a, SMALL_WINDOWS);
        const reused = applied(b, SMALL_WINDOWS).copyOf(x);
        const fresh = x.clone();
        for (const e of more) expect(reused.apply(e)).toEqual(fresh.apply(e));
        expect(reused.head).toBe(fresh.head);
        expect(reused.features()).toEqual(fresh.features());
        for (let i = 0; i < W; i++) {
          expect(reused.buckets(i)).toEqual(fresh.buckets(i));
          expect(liveMembers(reused, i)).toEqual(liveMembers(fresh, i));
        }
        // The source is left as it was.
        expect(x.features()).toEqual(applied(a, SMALL_WINDOWS).features());
      }),
      { numRuns: 200 },
    );
  });

  it('refuses to merge states over different windows, or a state into itself', () => {
    expect(() => EntityWindows.of(SMALL_WINDOWS).merge(EntityWindows.of(DEFAULT_SCALE.windows))).toThrow(RangeError);
    const s = EntityWindows.of(SMALL_WINDOWS);
    expect(() => s.merge(s)).toThrow(/into itself/);
  });
});

describe('EntityView', () => {
  it('is its own contribution alone until others are merged in, then the merge kept in step', () => {
    fc.assert(
      fc.property(partitioned(SMALL_SCALE), fc.nat(), ([events, owner, k], cut) => {
        const parts = split(events, owner, k);
        const [mine, ...theirs] = parts as [EntityEvent[], ...EntityEvent[][]];
        const at = cut % (mine.length + 1);
        const view = new EntityView(applied(mine.slice(0, at), SMALL_WINDOWS));
        const others = theirs.map((p) => applied(p, SMALL_WINDOWS));
        view.rebase(others);
        // Applying the rest of my events keeps own equal to a sequential pass over mine alone ...
        const got = mine.slice(at).map((e) => view.apply(e));
        expect(view.own.features()).toEqual(applied(mine, SMALL_WINDOWS).features());
        // ... and the view equal to a fresh merge of the others into (others ⊕ my first part) applied with the rest.
        const reference = applied(mine.slice(0, at), SMALL_WINDOWS);
        for (const o of others) reference.merge(o);
        const want = mine.slice(at).map((e) => reference.apply(e));
        expect(got).toEqual(want);
        expect(view.view.features()).toEqual(reference.features());
        view.rebase([]);
        expect(view.view).toBe(view.own);
      }),
      { numRuns: 100 },
    );
  });
});
