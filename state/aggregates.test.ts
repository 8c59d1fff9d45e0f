/**
 * readAggregates (state/aggregates.ts) against a brute force from the events (domain/windows.ts
 * aggregateBruteForce at the head, Welford by two passes), over states written the way the ingest
 * will write them: random streams through PartitionState into a fake of EntityStore, one partition
 * and two partitions sharing merchants and devices.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { EntityEvent } from '../domain/entity-features.ts';
import type { WindowSpec } from '../domain/windows.ts';
import { aggregatesMismatch, appliedEvents, eventsOf, expectedAggregates } from '../tests/helpers/aggregate-streams.ts';
import { CRASHES, FakeEntityStore, drive, entitiesOf, txStream } from '../tests/helpers/partition-streams.ts';
import { SMALL_SCALE, SMALL_WINDOWS, unlocated } from '../tests/helpers/window-streams.ts';
import { aggregatesOf, readAggregates } from './aggregates.ts';
import { encodeWindowState } from './codec.ts';
import type { Contribution } from './entity-store.ts';
import { EntityWindows, geometryOf } from './window-engine.ts';

const W = SMALL_WINDOWS;
const P0 = { topic: 'tx', partition: 0 };
const P1 = { topic: 'tx', partition: 1 };
const T0 = 1_700_000_000_000;

const ev = unlocated;

/** A contribution holding the given events applied in order. */
function contribution(events: readonly EntityEvent[], fence = 1n, windows: readonly WindowSpec[] = W): Contribution {
  const s = EntityWindows.of(windows);
  for (const e of events) s.apply(e);
  return { fence, blob: encodeWindowState(s) };
}

describe('reading', () => {
  it('reads all entities in one round trip, in order, null for one with no state, no round trip for none', async () => {
    const store = new FakeEntityStore();
    store.hashes.set('account:a', new Map([['tx/0', contribution([ev(T0, 100)])]]));
    store.hashes.set('merchant:m', new Map([['tx/3', contribution([ev(T0 + 1_000, 50)])]]));
    const got = await readAggregates(store, W, [
      { kind: 'merchant', id: 'm' },
      { kind: 'account', id: 'nobody' },
      { kind: 'account', id: 'a' },
    ]);
    expect(store.reads).toBe(1);
    expect(got.map((a) => a?.head ?? null)).toEqual([T0 + 1_000, null, T0]);
    expect(await readAggregates(store, W, [])).toEqual([]);
    expect(store.reads).toBe(1);
  });

  it('gives the windows at the head: counts, sums (unknown amounts counted, not summed), distinct members, amount statistics', () => {
    // SMALL_WINDOWS: 10 s in 2 s buckets, 1 min in 10 s buckets.
    const t = 1_700_000_000_000; // on a 10 s boundary
    const c = contribution([
      ev(t, 100, 'm1', 'US'),
      ev(t + 3_000, null, 'm2', 'FR'),
      ev(t + 12_000, 300, 'm1', 'US'),
      ev(t + 1_000, 500, 'm3', 'DE'), // out of order: outside the 10 s window at the head, inside the minute
    ]);
    const got = aggregatesOf(new Map([['tx/0', c]]), geometryOf(W));
    expect(got).toEqual({
      head: t + 12_000,
      windows: [
        // 10 s at head t+12s: buckets from t+4s on hold only t+12s.
        { count: 1, sumMinor: 300, distinctMerchants: 1, distinctCountries: 1 },
        { count: 4, sumMinor: 900, distinctMerchants: 3, distinctCountries: 3 },
      ],
      amountN: 3,
      amountMean: 300,
      amountStd: 200,
      // The live buckets, oldest first: the unknown amount counts as an event, not in the sum.
      activity: [
        [{ start: t + 12_000, count: 1, sumMinor: 300 }],
        [
          { start: t, count: 3, sumMinor: 600 },
          { start: t + 10_000, count: 1, sumMinor: 300 },
        ],
      ],
    });
  });

  it('merges partitions at the merged head: another partition’s older buckets drop out of the smaller window', () => {
    const t = 1_700_000_000_000;
    const found = new Map([
      ['tx/0', contribution([ev(t, 100, 'm1', 'US')])],
      ['tx/1', contribution([ev(t + 30_000, 200, 'm2', 'FR')])],
    ]);
    expect(aggregatesOf(found, geometryOf(W))).toEqual({
      head: t + 30_000,
      windows: [
        { count: 1, sumMinor: 200, distinctMerchants: 1, distinctCountries: 1 },
        { count: 2, sumMinor: 300, distinctMerchants: 2, distinctCountries: 2 },
      ],
      amountN: 2,
      amountMean: 150,
      amountStd: Math.sqrt(5_000),
      activity: [
        [{ start: t + 30_000, count: 1, sumMinor: 200 }],
        [
          { start: t, count: 1, sumMinor: 100 },
          { start: t + 30_000, count: 1, sumMinor: 200 },
        ],
      ],
    });
    // Past the minute, the older partition counts in no window, but still in the amount statistics
    // (they are not windowed, as in the Lua).
    found.set('tx/1', contribution([ev(t + 90_000, 200, 'm2', 'FR')], 2n));
    const later = aggregatesOf(found, geometryOf(W));
    expect(later?.windows.map((w) => w.count)).toEqual([1, 1]);
    expect(later?.amountN).toBe(2);
  });

  it('does not depend on the order the store lists the contributions in', () => {
    const events = fc.sample(txStream(SMALL_SCALE, 'x', 60), { numRuns: 3, seed: 7 });
    const parts = events.map(
      (s, p) =>
        [
          `tx/${p === 2 ? 10 : p}`,
          contribution(
            s.map((t) => t.event),
            1n,
          ),
        ] as const,
    );
    const forward = aggregatesOf(new Map(parts), geometryOf(W));
    const backward = aggregatesOf(new Map([...parts].reverse()), geometryOf(W));
    expect(forward).not.toBeNull();
    expect(backward).toEqual(forward);
  });

  it('treats contributions without a head as no state', () => {
    const empty = { fence: 0n, blob: encodeWindowState(EntityWindows.of(W)) };
    expect(aggregatesOf(new Map([['tx/0', empty]]), geometryOf(W))).toBeNull();
    expect(aggregatesOf(new Map(), geometryOf(W))).toBeNull();
  });

  it('refuses a contribution written for other windows rather than misread it', async () => {
    const store = new FakeEntityStore();
    const other: WindowSpec[] = [{ name: '1h', lengthMs: 3_600_000, bucketMs: 60_000 }];
    store.hashes.set('account:a', new Map([['tx/0', contribution([ev(T0, 1)], 1n, other)]]));
    await expect(readAggregates(store, W, [{ kind: 'account', id: 'a' }])).rejects.toMatchObject({ code: 'INVARIANT_BROKEN' });
  });
});

describe('states written by the partition-state stage equal the brute force', () => {
  it('one partition, through random batches, crashes and replays', async () => {
    await fc.assert(
      fc.asyncProperty(
        txStream(SMALL_SCALE, 'p0', 80),
        fc.array(fc.integer({ min: 1, max: 25 }), { minLength: 1, maxLength: 6 }),
        fc.array(fc.constantFrom(...CRASHES, 'none', 'none'), { maxLength: 10 }),
        async (stream, cuts, crashes) => {
          const store = new FakeEntityStore();
          await drive(stream, store, { windows: W, source: P0, cuts, crashes });
          const refs = entitiesOf(stream);
          const got = await readAggregates(store, W, refs);
          refs.forEach((ref, i) =>
            expect(
              aggregatesMismatch(got[i] ?? null, expectedAggregates([eventsOf(stream, ref)], W)),
              `${ref.kind} ${ref.id}`,
            ).toBeNull(),
          );
        },
      ),
      { numRuns: 60 },
    );
  });

  it('two partitions sharing merchants and devices: the merge of both contributions', async () => {
    let shared = 0;
    await fc.assert(
      fc.asyncProperty(
        txStream(SMALL_SCALE, 'p0', 60),
        txStream(SMALL_SCALE, 'p1', 60),
        fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 1, maxLength: 4 }),
        async (s0, s1, cuts) => {
          const store = new FakeEntityStore();
          await drive(s0, store, { windows: W, source: P0, cuts, crashes: [] });
          await drive(s1, store, { windows: W, source: P1, cuts, crashes: [] });
          const refs = entitiesOf([...s0, ...s1]);
          const got = await readAggregates(store, W, refs);
          refs.forEach((ref, i) => {
            const per = [eventsOf(s0, ref), eventsOf(s1, ref)];
            if (per.every((e) => appliedEvents(e, W).length > 0)) shared++;
            expect(aggregatesMismatch(got[i] ?? null, expectedAggregates(per, W)), `${ref.kind} ${ref.id}`).toBeNull();
          });
        },
      ),
      { numRuns: 40 },
    );
    // The property is about merges: make sure it met entities with two live contributions.
    expect(shared).toBeGreaterThan(20);
  });
});
