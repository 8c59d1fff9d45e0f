/**
 * The partition-state stage against the brute force (domain/entity-features.ts), over an in-memory
 * twin of the store's fenced read/checkpoint: random streams cut into random batches with crashes at
 * every step of a batch, fences straddled, duplicates, LRU eviction and re-reads; and two partitions
 * (two processes) sharing merchants and devices.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { featureArray, type EntityEvent } from '../domain/entity-features.ts';
import { SNAPSHOT_ENTITIES, SnapshotWriter, type EntityFeatureSet, type FlatFeatures } from '../domain/snapshot.ts';
import type { StaticFeatures } from '../domain/enrich.ts';
import {
  CRASHES,
  INTERVAL_CRASHES,
  FakeEntityStore,
  bruteForce,
  drive,
  driveIntervals,
  entitiesOf,
  featuresOf,
  storedState,
  txStream,
  type StreamTx,
} from '../tests/helpers/partition-streams.ts';
import { SMALL_SCALE, SMALL_WINDOWS, featureMismatch } from '../tests/helpers/window-streams.ts';
import { encodeWindowState } from './codec.ts';
import { PartitionState, checkpointPhase, type StateTransaction } from './partition-state.ts';
import { EntityWindows } from './window-engine.ts';

const W = SMALL_WINDOWS;
/** Static features for the snapshot text comparisons (the windowed part is what is tested). */
const ST = { hour_of_day: 3, account_risk_tier: 'LOW' } as StaticFeatures;
const WC = W.length;
const P0 = { topic: 'tx', partition: 0 };
const P1 = { topic: 'tx', partition: 1 };
/** The windows and amount statistics of features() (since-previous and travel are per event). */
const AGG = WC * 4 + 3;

function expectSame(actual: ArrayLike<number | null> | null, expected: ArrayLike<number | null>, what: string): void {
  expect(actual, what).not.toBeNull();
  expect(featureMismatch(actual as ArrayLike<number | null>, expected, WC), what).toBeNull();
}

const ev = (eventTime: number, amountMinor: number | null = 100): EntityEvent => ({
  eventTime,
  amountMinor,
  merchantId: 'm',
  country: 'US',
  lat: null,
  lon: null,
  late: false,
});

const tx = (offset: number, event: EntityEvent, verdict: StateTransaction['verdict'] = 'fresh'): StateTransaction => ({
  offset: BigInt(offset),
  verdict,
  account: 'a',
  card: 'c',
  merchant: 'm',
  device: null,
  event,
});

type Expected = ReturnType<typeof bruteForce>;

/**
 * Holds the store's next read until the returned function is called: run then, or (`answerFirst`)
 * answered at once from the store as it is and handed back then.
 */
function holdNextRead(store: FakeEntityStore, o: { answerFirst: boolean }): () => void {
  let open: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const read = store.read.bind(store);
  store.read = async (refs) => {
    store.read = read;
    if (!o.answerFirst) await gate;
    const answer = await read(refs);
    if (o.answerFirst) await gate;
    return answer;
  };
  return () => open();
}

/** Three partitions' streams over the same merchants and devices. */
const threeStreams = (maxLength: number) =>
  fc.tuple(
    txStream(SMALL_SCALE, 'p0', maxLength),
    txStream(SMALL_SCALE, 'p1', maxLength),
    txStream(SMALL_SCALE, 'p2', maxLength),
  );

/** A batch of one of three partitions: up to `n` records, failing first one time in five, the clock moved up to 600 ms. */
const stepOf = (n: number) => ({
  p: fc.integer({ min: 0, max: 2 }),
  n: fc.integer({ min: 1, max: n }),
  fail: fc.integer({ min: 0, max: 4 }).map((k) => k === 0),
  advanceMs: fc.integer({ min: 0, max: 600 }),
});

/** A fresh transaction's features (stream index i) against the brute force. */
function expectFreshFeatures(got: EntityFeatureSet | null, i: number, expected: Expected): void {
  for (const kind of SNAPSHOT_ENTITIES) {
    const want = expected.byTx[i]?.get(kind);
    if (want === undefined) expect(got?.[kind]).toBeNull();
    else expectSame(featuresOf(got ?? ({} as never), kind), featureArray(want), `tx ${i} ${kind}`);
  }
}

/** Every entity's stored windows (all contributions merged) against the brute force over the stream. */
async function expectStoredEqualsBruteForce(
  store: FakeEntityStore,
  stream: readonly StreamTx[],
  expected: Expected,
): Promise<void> {
  for (const ref of entitiesOf(stream)) {
    const s = await storedState(store, ref, W);
    const want = expected.last.get(`${ref.kind}:${ref.id}`);
    const agg = want ? featureArray(want).slice(0, AGG) : new EntityWindows(s.geometry).features().slice(0, AGG);
    expectSame(s.features().slice(0, AGG), agg, `stored ${ref.kind}:${ref.id}`);
  }
}

describe('one partition: features and stored state equal the brute force', () => {
  it('through random batches, crashes at every step, replays, duplicates and LRU eviction', async () => {
    const writer = new SnapshotWriter(W);
    await fc.assert(
      fc.asyncProperty(
        txStream(SMALL_SCALE, 'p0', 80),
        fc.array(fc.integer({ min: 1, max: 25 }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.constantFrom(...CRASHES, 'none', 'none'), { maxLength: 12 }),
        fc.constantFrom(0, 30_000, undefined),
        async (stream, cuts, crashes, cacheBytes) => {
          const store = new FakeEntityStore();
          const expected = bruteForce(stream, W);
          await drive(stream, store, {
            windows: W,
            source: P0,
            cuts,
            crashes,
            cacheBytes,
            onBatch: (batch, indexes, txs) => {
              expect(batch.anomalies).toEqual([]);
              txs.forEach((t, j) => {
                const i = indexes[j] as number;
                const got = batch.features(j);
                if (t.verdict === 'duplicate') {
                  expect(batch.flat(j)).toBeNull();
                  return expect(got).toBeNull();
                }
                // The flat read in place holds the same features (what the ingest writes and decides on).
                if (got !== null) expect(writer.valuesFlat(ST, batch.flat(j) as FlatFeatures)).toBe(writer.values(ST, got));
                if (t.verdict === 'fresh') expectFreshFeatures(got, i, expected);
              });
            },
          });
          await expectStoredEqualsBruteForce(store, stream, expected);
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('a checkpoint per commit interval, restored by replay', () => {
  it('features and stored state equal the brute force through random crashes, with the progress trailing the commits and shared contributions checkpointed between', async () => {
    let restores = 0;
    let sharedWrites = 0;
    await fc.assert(
      fc.asyncProperty(
        txStream(SMALL_SCALE, 'p0', 80),
        fc.array(fc.integer({ min: 1, max: 25 }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.constantFrom(...INTERVAL_CRASHES, 'afterCommit', 'none', 'none'), { maxLength: 14 }),
        fc.integer({ min: 1, max: 5 }),
        fc.constantFrom(0, 30_000, undefined),
        fc.constantFrom(undefined, 1, 2),
        fc.integer({ min: 0, max: 3 }),
        async (stream, cuts, crashes, every, cacheBytes, sharedEvery, loseEvery) => {
          const store = new FakeEntityStore();
          const expected = bruteForce(stream, W);
          const run = await driveIntervals(stream, store, {
            windows: W,
            source: P0,
            cuts,
            crashes,
            every,
            sharedEvery,
            // Some shared-only writes lost by the store after their acknowledgement (loseEvery 0: none).
            loseShared: (b) => loseEvery > 0 && b % loseEvery === 0,
            rollback: () => {
              const copy = [...store.hashes].map(([k, m]) => [k, new Map(m)] as const);
              return () => {
                store.hashes.clear();
                for (const [k, m] of copy) store.hashes.set(k, m);
              };
            },
            cacheBytes,
            onRestore: (from, to) => {
              expect(from).toBeLessThan(to);
              restores++;
            },
            onBatch: (batch, indexes, txs) => {
              // Never a fresh record at or below a fence: the replay put back exactly what the store lacked.
              expect(batch.anomalies).toEqual([]);
              expect(batch.checkpointWrites()).toEqual([]);
              txs.forEach((t, j) => {
                if (t.verdict === 'fresh') expectFreshFeatures(batch.features(j), indexes[j] as number, expected);
              });
            },
          });
          await expectStoredEqualsBruteForce(store, stream, expected);
          sharedWrites += run.sharedWrites;
        },
      ),
      { numRuns: 150 },
    );
    // Shared contributions went out between checkpoints (fenced, no progress) in many runs.
    expect(sharedWrites).toBeGreaterThan(50);
    // The property exercised the restore, not only clean runs.
    // (About 40 in 150 runs, seldom below 20: the floor leaves room for the seeds' spread.)
    expect(restores).toBeGreaterThan(10);
  });

  it('a checkpoint is due at the first batch of a held partition, then once the interval has passed', async () => {
    let now = 1_000_000;
    const store = new FakeEntityStore();
    const ps = new PartitionState(store, { windows: W, encodeAtApply: false, now: () => now });
    const held = ps.hold(P0, null);
    expect(ps.checkpointDue(held, 1_000)).toBe(true);
    await ps.applyBatch(P0, [tx(0, ev(1_700_000_000_000))]);
    const cp = ps.checkpoint(P0);
    cp.confirm(await store.checkpoint(cp.writes));
    expect(ps.checkpointDue(held, 1_000)).toBe(false);
    expect(ps.checkpointDue(held, 0)).toBe(true);
    now += 999;
    expect(ps.checkpointDue(held, 1_000)).toBe(false);
    now += 1;
    expect(ps.checkpointDue(held, 1_000)).toBe(true);
  });

  it('checkpoint() holds every change since the last confirmed one, once; a release forgets them', async () => {
    const store = new FakeEntityStore();
    const ps = new PartitionState(store, { windows: W, encodeAtApply: false });
    const T = 1_700_000_000_000;
    expect(ps.heldPartition(P0)).toBeUndefined();
    const held = ps.hold(P0, null);
    await ps.applyBatch(P0, [tx(0, ev(T))]);
    await ps.applyBatch(P0, [{ ...tx(1, ev(T + 1_000)), account: 'b', card: 'cb' }]);
    expect(ps.hasChanges(P0)).toBe(true);
    const cp = ps.checkpoint(P0);
    // a, c, b, cb, the merchant (once, at its last fence), no device.
    expect(cp.writes.map((w) => `${w.kind}:${w.id}@${w.fence}`).sort()).toEqual(
      ['account:a@0', 'account:b@1', 'card:c@0', 'card:cb@1', 'merchant:m@1'].sort(),
    );
    cp.confirm(await store.checkpoint(cp.writes));
    expect(held.checkpointedAt).toBeGreaterThan(0);
    expect(ps.hasChanges(P0)).toBe(false);
    expect(ps.checkpoint(P0).writes).toEqual([]);
    await ps.applyBatch(P0, [tx(2, ev(T + 2_000))]);
    expect(
      ps
        .checkpoint(P0)
        .writes.map((w) => w.kind)
        .sort(),
    ).toEqual(['account', 'card', 'merchant']);
    ps.release(P0.topic, P0.partition);
    expect(ps.heldPartition(P0)).toBeUndefined();
    expect(ps.hasChanges(P0)).toBe(false);
    expect(ps.checkpoint(P0).writes).toEqual([]);
  });

  it('offsets the partitions’ checkpoints by a phase of the interval once, then keeps whole intervals', async () => {
    const phases = Array.from({ length: 12 }, (_, p) => checkpointPhase(p));
    expect(phases[0]).toBe(1);
    for (const f of phases) expect(f >= 0.75 && f <= 1).toBe(true);
    // Six partitions (the transactions topic's): no two within 2 % of the interval of each other.
    const six = phases.slice(0, 6).sort((a, b) => a - b);
    for (let i = 1; i < six.length; i++) expect((six[i] as number) - (six[i - 1] as number)).toBeGreaterThan(0.02);
    let now = 1_000_000;
    const store = new FakeEntityStore();
    const ps = new PartitionState(store, { windows: W, encodeAtApply: false, now: () => now });
    const source = { topic: 'tx', partition: 1 };
    const held = ps.hold(source, null);
    expect(held.phase).toBe(phases[1]);
    const checkpointNow = async () => {
      const cp = ps.checkpoint(source);
      cp.confirm(await store.checkpoint(cp.writes));
    };
    // The first at once; the second after the phase's share of the interval; then whole intervals.
    expect(ps.checkpointDue(held, 5_000)).toBe(true);
    await checkpointNow();
    now += Math.ceil(5_000 * held.phase) - 1;
    expect(ps.checkpointDue(held, 5_000)).toBe(false);
    now += 1;
    expect(ps.checkpointDue(held, 5_000)).toBe(true);
    await checkpointNow();
    now += 4_999;
    expect(ps.checkpointDue(held, 5_000)).toBe(false);
    now += 1;
    expect(ps.checkpointDue(held, 5_000)).toBe(true);
    expect(held.checkpoints).toBe(2);
  });

  it('a shared-only checkpoint writes merchants and devices alone, leaves the rest changed, and raises no progress', async () => {
    let now = 5_000_000;
    const store = new FakeEntityStore();
    const ps = new PartitionState(store, { windows: W, encodeAtApply: false, now: () => now });
    const T = 1_700_000_000_000;
    const held = ps.hold(P0, null);
    await ps.applyBatch(P0, [{ ...tx(0, ev(T)), device: 'd' }]);
    const full = ps.checkpoint(P0);
    full.confirm(await store.checkpoint(full.writes));
    await ps.applyBatch(P0, [
      { ...tx(1, ev(T + 1_000)), device: 'd' },
      { ...tx(2, ev(T + 2_000)), account: 'b', card: 'cb' },
    ]);
    expect(ps.sharedCheckpointDue(held, 1_000)).toBe(false);
    now += 1_000;
    expect(ps.sharedCheckpointDue(held, 1_000)).toBe(true);
    expect(ps.checkpointDue(held, 5_000)).toBe(false);
    const shared = ps.checkpoint(P0, { sharedOnly: true });
    expect(shared.writes.map((w) => `${w.kind}:${w.id}@${w.fence}`).sort()).toEqual(['device:d@1', 'merchant:m@2']);
    shared.confirm(await store.checkpoint(shared.writes));
    expect(held.sharedCheckpointedAt).toBe(now);
    expect(held.checkpointedAt).toBe(5_000_000);
    expect(ps.sharedCheckpointDue(held, 1_000)).toBe(false);
    // Sent once: the next shared-only checkpoint has nothing new to send.
    expect(ps.checkpoint(P0, { sharedOnly: true }).writes).toEqual([]);
    expect(ps.hasChanges(P0)).toBe(true);
    // Events in the stored state: the longest window's bucket counts.
    const events = async (kind: 'merchant' | 'account', id: string) =>
      (await storedState(store, { kind, id }, W)).buckets(WC - 1).reduce((n, [, c]) => n + c, 0);
    expect(await events('merchant', 'm')).toBe(3);
    expect(await events('account', 'a')).toBe(1);
    // The checkpoint sends everything changed since the last one, the shared ones again: a Redis
    // that lost them since (a failover to a replica behind) gets them back before the progress.
    store.hashes.delete('merchant:m');
    expect(await events('merchant', 'm')).toBe(0);
    const rest = ps.checkpoint(P0);
    expect(rest.writes.map((w) => `${w.kind}:${w.id}@${w.fence}`).sort()).toEqual([
      'account:a@1',
      'account:b@2',
      'card:c@1',
      'card:cb@2',
      'device:d@1',
      'merchant:m@2',
    ]);
    rest.confirm(await store.checkpoint(rest.writes));
    expect(await events('merchant', 'm')).toBe(3);
    expect(ps.hasChanges(P0)).toBe(false);
  });
});

describe('fences', () => {
  it('skips records at or below a stored fence and applies those above it, in one batch', async () => {
    const store = new FakeEntityStore();
    const events = [0, 1, 2, 3, 4, 5].map((k) => ev(1_700_000_000_000 + k * 1000, 100 + k));
    const upTo = (n: number) => {
      const s = EntityWindows.of(W);
      for (const e of events.slice(0, n)) s.apply(e);
      return s;
    };
    // The account's stored contribution covers offsets 0..2; the card has none.
    await store.checkpoint([{ kind: 'account', id: 'a', source: P0, fence: 2n, blob: encodeWindowState(upTo(3)) }]);
    const ps = new PartitionState(store, { windows: W });
    const batch = await ps.applyBatch(
      P0,
      events.map((e, i) => tx(i, e, 'replay')),
    );
    expect(batch.anomalies).toEqual([]);
    expect([0, 1, 2, 3, 4, 5].map((i) => batch.complete(i))).toEqual([false, false, false, true, true, true]);
    const writes = batch.checkpointWrites();
    expect(writes.map((w) => [w.kind, w.fence])).toEqual([
      ['account', 5n],
      ['card', 5n],
      ['merchant', 5n],
    ]);
    batch.confirm(await store.checkpoint(writes));
    const all = upTo(6).features();
    for (const kind of ['account', 'card'] as const)
      expectSame((await storedState(store, { kind, id: kind === 'account' ? 'a' : 'c' }, W)).features(), all, kind);
  });

  it('reports a fresh record at or below a fence as an anomaly and applies nothing twice', async () => {
    const store = new FakeEntityStore();
    const s = EntityWindows.of(W);
    s.apply(ev(1_700_000_000_000));
    await store.checkpoint([{ kind: 'card', id: 'c', source: P0, fence: 7n, blob: encodeWindowState(s) }]);
    const batch = await new PartitionState(store, { windows: W }).applyBatch(P0, [tx(7, ev(1_700_000_001_000))]);
    expect(batch.anomalies).toEqual([{ index: 0, kind: 'card', id: 'c', fence: 7n }]);
    expect(batch.features(0)).toBeNull();
    expect(batch.checkpointWrites().map((w) => w.kind)).toEqual(['account', 'merchant']);
  });

  it('calls afterReadsSent once the batch read is sent and before it is answered, or at once when nothing is read', async () => {
    const events: string[] = [];
    const store = new FakeEntityStore();
    const read = store.read.bind(store);
    store.read = async (entities) => {
      events.push('read sent');
      await Promise.resolve();
      events.push('read answered');
      return read(entities);
    };
    // A fixed clock: the merchant read with the first batch is still fresh at the second.
    const ps = new PartitionState(store, { windows: W, encodeAtApply: false, now: () => 1_000_000 });
    await ps.applyBatch(P0, [tx(0, ev(1_700_000_000_000))], { afterReadsSent: () => events.push('after reads sent') });
    expect(events).toEqual(['read sent', 'after reads sent', 'read answered']);
    // The next batch of the same account, card and merchant: held in memory, no read.
    events.length = 0;
    await ps.applyBatch(P0, [tx(1, ev(1_700_000_001_000))], { afterReadsSent: () => events.push('after reads sent') });
    expect(events).toEqual(['after reads sent']);
  });

  it('never applies a duplicate', async () => {
    const store = new FakeEntityStore();
    const ps = new PartitionState(store, { windows: W });
    const batch = await ps.applyBatch(P0, [tx(0, ev(1_700_000_000_000)), tx(1, ev(1_700_000_001_000), 'duplicate')]);
    expect(batch.features(1)).toBeNull();
    batch.confirm(await store.checkpoint(batch.checkpointWrites()));
    const stored = await storedState(store, { kind: 'account', id: 'a' }, W);
    expect(stored.features()[0]).toBe(1);
    // A batch of duplicates only reads nothing and writes nothing.
    const dup = await ps.applyBatch(P0, [tx(2, ev(1_700_000_002_000), 'duplicate')]);
    expect(dup.checkpointWrites()).toEqual([]);
  });

  it('drops an entity whose write a newer owner refused, and re-reads it', async () => {
    const store = new FakeEntityStore();
    const zombie = new PartitionState(store, { windows: W });
    const batch = await zombie.applyBatch(P0, [tx(0, ev(1_700_000_000_000))]);
    // The new owner processed offsets 0..1 and checkpointed first.
    const owner = new PartitionState(store, { windows: W });
    const ob = await owner.applyBatch(P0, [tx(0, ev(1_700_000_000_000)), tx(1, ev(1_700_000_001_000))]);
    ob.confirm(await store.checkpoint(ob.checkpointWrites()));
    const outcomes = await store.checkpoint(batch.checkpointWrites());
    expect(outcomes.every((o) => !o.written && o.fence === 1n)).toBe(true);
    batch.confirm(outcomes);
    expect(zombie.held).toBe(0);
    // Re-read: offset 1 is already in the state (read only), offset 2 is applied on top.
    const next = await zombie.applyBatch(P0, [tx(1, ev(1_700_000_001_000), 'replay'), tx(2, ev(1_700_000_002_000))]);
    expect(next.anomalies).toEqual([]);
    expect(next.features(1)?.account?.windows[0]?.count).toBe(3);
  });
  it('takes a shared entity from the store when its stored fence is above the one in memory', async () => {
    const store = new FakeEntityStore();
    const behind = new PartitionState(store, { windows: W, sharedRefreshMs: 0 });
    const b0 = await behind.applyBatch(P0, [tx(0, ev(1_700_000_000_000))]);
    b0.confirm(await store.checkpoint(b0.checkpointWrites()));
    // Another owner applied offsets 0..1 meanwhile; this process resumes at offset 2.
    const owner = new PartitionState(store, { windows: W });
    const ob = await owner.applyBatch(P0, [tx(0, ev(1_700_000_000_000)), tx(1, ev(1_700_000_001_000))]);
    ob.confirm(await store.checkpoint(ob.checkpointWrites()));
    const next = await behind.applyBatch(P0, [tx(2, ev(1_700_000_002_000))]);
    expect(next.features(0)?.merchant?.windows[0]?.count).toBe(3);
  });

  it('marks a write refused at an equal fence as stored (the same contribution), so it can be evicted', async () => {
    const store = new FakeEntityStore();
    // Two owners of one partition (a zombie and the new one) apply the same batch; one writes first.
    const first = new PartitionState(store, { windows: W });
    const second = new PartitionState(store, { windows: W, cacheBytes: 0 });
    const b = await first.applyBatch(P0, [tx(0, ev(1_700_000_000_000))]);
    const again = await second.applyBatch(P0, [tx(0, ev(1_700_000_000_000))]);
    b.confirm(await store.checkpoint(b.checkpointWrites()));
    const outcomes = await store.checkpoint(again.checkpointWrites());
    expect(outcomes.map((o) => o.written)).toEqual([false, false, false]);
    again.confirm(outcomes);
    expect(second.held).toBe(0);
  });
});
describe('memory', () => {
  it('evicts only checkpointed entries and re-reads them with the same results', async () => {
    const store = new FakeEntityStore();
    const ps = new PartitionState(store, { windows: W, cacheBytes: 0 });
    const batch = await ps.applyBatch(P0, [tx(0, ev(1_700_000_000_000))]);
    expect(ps.held).toBe(3);
    batch.confirm(await store.checkpoint(batch.checkpointWrites()));
    expect(ps.held).toBe(0);
    expect(ps.heldBytes).toBe(0);
    const reads = store.reads;
    const next = await ps.applyBatch(P0, [tx(1, ev(1_700_000_001_000))]);
    expect(store.reads).toBe(reads + 1);
    expect(next.features(0)?.account?.windows[0]?.count).toBe(2);
  });

  it('keeps accounts and cards in memory without reading them again; merchants and devices are read every batch (sharedRefreshMs 0)', async () => {
    const store = new FakeEntityStore();
    const ps = new PartitionState(store, { windows: W, sharedRefreshMs: 0 });
    const first = await ps.applyBatch(P0, [{ ...tx(0, ev(1_700_000_000_000)), merchant: 'm', device: 'd' }]);
    first.confirm(await store.checkpoint(first.checkpointWrites()));
    const read = store.read.bind(store);
    const asked: string[] = [];
    store.read = async (refs) => {
      asked.push(...refs.map((r) => r.kind));
      return read(refs);
    };
    await ps.applyBatch(P0, [{ ...tx(1, ev(1_700_000_001_000)), merchant: 'm', device: 'd' }]);
    expect(asked).toEqual(['merchant', 'device']);
  });

  it('reads a shared entity again only after sharedRefreshMs, meanwhile counting the others as read last', async () => {
    const store = new FakeEntityStore();
    let clock = 0;
    const other = new PartitionState(store, { windows: W });
    const ps = new PartitionState(store, { windows: W, sharedRefreshMs: 1_000, now: () => clock });
    const o0 = await other.applyBatch(P1, [{ ...tx(0, ev(1_700_000_000_000)), account: 'b', card: 'cb' }]);
    o0.confirm(await store.checkpoint(o0.checkpointWrites()));
    const read = store.read.bind(store);
    const asked: string[] = [];
    store.read = async (refs) => {
      asked.push(...refs.map((r) => `${r.kind}:${r.id}`));
      return read(refs);
    };
    const b0 = await ps.applyBatch(P0, [{ ...tx(0, ev(1_700_000_001_000)), device: 'd' }]);
    b0.confirm(await store.checkpoint(b0.checkpointWrites()));
    expect(asked).toEqual(['account:a', 'card:c', 'merchant:m', 'device:d']);
    expect(b0.features(0)?.merchant?.windows[0]?.count).toBe(2);
    // The other partition moves on; within the interval its new event is not seen, nothing is read.
    const o1 = await other.applyBatch(P1, [{ ...tx(1, ev(1_700_000_001_500)), account: 'b', card: 'cb' }]);
    o1.confirm(await store.checkpoint(o1.checkpointWrites()));
    asked.length = 0;
    clock = 999;
    const b1 = await ps.applyBatch(P0, [{ ...tx(1, ev(1_700_000_002_000)), device: 'd' }]);
    b1.confirm(await store.checkpoint(b1.checkpointWrites()));
    expect(asked).toEqual([]);
    expect(b1.features(0)?.merchant?.windows[0]?.count).toBe(3);
    // Due: read again, and the other's event is counted.
    clock = 1_000;
    const b2 = await ps.applyBatch(P0, [{ ...tx(2, ev(1_700_000_003_000)), device: 'd' }]);
    expect(asked).toEqual(['merchant:m', 'device:d']);
    expect(b2.features(0)?.merchant?.windows[0]?.count).toBe(5);
    // Own events are exact whatever the interval.
    expect(b2.features(0)?.account?.windows[0]?.count).toBe(3);
  });

  it('never evicts an entry another batch loaded and has not applied yet (batches of two partitions interleaved)', async () => {
    const store = new FakeEntityStore();
    const read = store.read.bind(store);
    let gate: Promise<void> | null = null;
    store.read = async (refs) => {
      const wait = gate;
      const found = await read(refs);
      if (wait) await wait;
      return found;
    };
    // Room for one partition's three entities, not for two partitions'.
    const ps = new PartitionState(store, { windows: W, cacheBytes: 6_000 });
    const p1 = (offset: number, t: number) => ({ ...tx(offset, ev(t)), account: 'b', card: 'cb' });
    const b0 = await ps.applyBatch(P1, [p1(0, 1_700_000_000_000)]);
    b0.confirm(await store.checkpoint(b0.checkpointWrites()));
    expect(ps.held).toBe(3);
    let open = () => {};
    gate = new Promise((resolve) => (open = resolve));
    // P1's batch holds account b and card cb while it waits for its merchant's read.
    const waiting = ps.applyBatch(P1, [p1(1, 1_700_000_001_000)]);
    gate = null;
    const a = await ps.applyBatch(P0, [tx(0, ev(1_700_000_000_500))]);
    a.confirm(await store.checkpoint(a.checkpointWrites()));
    open();
    const b1 = await waiting;
    // b1 is not checkpointed yet: the next batch must find b1's events in memory.
    const b2 = await ps.applyBatch(P1, [p1(2, 1_700_000_002_000)]);
    expect(b1.features(0)?.account?.windows[0]?.count).toBe(2);
    expect(b2.features(0)?.account?.windows[0]?.count).toBe(3);
  });

  it('release drops a partition and nothing else', async () => {
    const store = new FakeEntityStore();
    const ps = new PartitionState(store, { windows: W });
    const a = await ps.applyBatch(P0, [tx(0, ev(1_700_000_000_000))]);
    const b = await ps.applyBatch(P1, [{ ...tx(0, ev(1_700_000_000_000)), account: 'b', card: 'cb' }]);
    a.confirm(await store.checkpoint(a.checkpointWrites()));
    b.confirm(await store.checkpoint(b.checkpointWrites()));
    expect(ps.held).toBe(6);
    ps.release('tx', 0);
    expect(ps.held).toBe(3);
  });
});

describe('two partitions sharing merchants and devices', () => {
  it('merged stored windows equal the brute force over all events (a shared card too); accounts and unshared cards exact throughout', async () => {
    await fc.assert(
      fc.asyncProperty(
        txStream(SMALL_SCALE, 'p0', 60),
        txStream(SMALL_SCALE, 'p1', 60),
        fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 2, maxLength: 8 }),
        async (t0, t1, cuts) => {
          // One card seen under accounts of both partitions (every 7th transaction): merged like a merchant.
          const share = (s: StreamTx[]) => s.map((t, i) => (i % 7 === 3 ? { ...t, card: 'c-shared' } : t));
          const s0 = share(t0);
          const s1 = share(t1);
          const store = new FakeEntityStore();
          const streams = [s0, s1];
          const sources = [P0, P1];
          const expected = streams.map((s) => bruteForce(s, W));
          const states = [new PartitionState(store, { windows: W }), new PartitionState(store, { windows: W })];
          const next = [0, 0];
          const order: StreamTx[] = [];
          for (let b = 0; next[0]! < s0.length || next[1]! < s1.length; b++) {
            const p = next[b % 2]! < streams[b % 2]!.length ? b % 2 : 1 - (b % 2);
            const stream = streams[p]!;
            const from = next[p]!;
            const slice = stream.slice(from, from + cuts[b % cuts.length]!);
            next[p] = from + slice.length;
            order.push(...slice);
            const txs = slice.map((t, j): StateTransaction => ({
              offset: BigInt(from + j),
              verdict: t.duplicate ? 'duplicate' : 'fresh',
              ...t,
            }));
            const batch = await states[p]!.applyBatch(sources[p]!, txs);
            txs.forEach((t, j) => {
              if (t.verdict === 'duplicate') return;
              for (const kind of ['account', 'card'] as const)
                if (kind === 'account' || t.card !== 'c-shared')
                  expectSame(
                    featuresOf(batch.features(j)!, kind),
                    featureArray(expected[p]!.byTx[from + j]!.get(kind)!),
                    `p${p} ${kind}`,
                  );
            });
            batch.confirm(await store.checkpoint(batch.checkpointWrites()));
          }
          const all = bruteForce(order, W);
          for (const ref of entitiesOf(order)) {
            const want = all.last.get(`${ref.kind}:${ref.id}`);
            const s = await storedState(store, ref, W);
            const windows = want ? featureArray(want).slice(0, WC * 4) : new Array<number>(WC * 4).fill(0);
            expectSame(s.features().slice(0, WC * 4), windows, `${ref.kind}:${ref.id}`);
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it('decodes another partition’s contribution only when its fence moved', async () => {
    const store = new FakeEntityStore();
    const p1 = new PartitionState(store, { windows: W });
    const b1 = await p1.applyBatch(P1, [{ ...tx(0, ev(1_700_000_000_000)), account: 'b', card: 'cb' }]);
    b1.confirm(await store.checkpoint(b1.checkpointWrites()));
    const p0 = new PartitionState(store, { windows: W, sharedRefreshMs: 0 });
    const first = await p0.applyBatch(P0, [tx(0, ev(1_700_000_001_000))]);
    first.confirm(await store.checkpoint(first.checkpointWrites()));
    expect(p0.decodes).toBe(1); // p1's merchant contribution
    expect(first.features(0)?.merchant?.windows[0]?.count).toBe(2);
    const again = await p0.applyBatch(P0, [tx(1, ev(1_700_000_002_000))]);
    expect(p0.decodes).toBe(1);
    expect(again.features(0)?.merchant?.windows[0]?.count).toBe(3);
    const b2 = await p1.applyBatch(P1, [{ ...tx(1, ev(1_700_000_002_500)), account: 'b', card: 'cb' }]);
    b2.confirm(await store.checkpoint(b2.checkpointWrites()));
    const third = await p0.applyBatch(P0, [tx(2, ev(1_700_000_003_000))]);
    expect(p0.decodes).toBe(2);
    expect(third.features(0)?.merchant?.windows[0]?.count).toBe(5);
  });

  it('reads a partition held in the same process from memory: no decode, its events before their checkpoint, a copy another owner overtook decoded', async () => {
    const store = new FakeEntityStore();
    const ps = new PartitionState(store, { windows: W, sharedRefreshMs: 0 });
    ps.hold(P0, null);
    ps.hold(P1, null);
    const p1 = (offset: number, t: number) => ({ ...tx(offset, ev(t)), account: 'b', card: 'cb' });
    const a = await ps.applyBatch(P1, [p1(0, 1_700_000_000_000)]);
    a.confirm(await store.checkpoint(a.checkpointWrites()));
    // Not checkpointed: P1's second event is only in memory, and P0 counts it.
    await ps.applyBatch(P1, [p1(1, 1_700_000_000_500)]);
    const b = await ps.applyBatch(P0, [tx(0, ev(1_700_000_001_000))]);
    expect(b.features(0)?.merchant?.windows[0]?.count).toBe(3);
    expect(b.features(0)?.account?.windows[0]?.count).toBe(1);
    expect(ps.decodes).toBe(0);
    // The view is a merge, not P1's state: P0's event is not in P1's contribution.
    const c = await ps.applyBatch(P1, [p1(2, 1_700_000_001_500)]);
    expect(c.features(0)?.merchant?.windows[0]?.count).toBe(4);
    expect(ps.decodes).toBe(0);
    // Another process took P1 over and checkpointed past this copy: P0 decodes the store's.
    const other = new PartitionState(store, { windows: W });
    const o = await other.applyBatch(P1, [
      p1(0, 1_700_000_000_000),
      p1(1, 1_700_000_000_500),
      p1(2, 1_700_000_001_500),
      p1(3, 1_700_000_001_600),
    ]);
    o.confirm(await store.checkpoint(o.checkpointWrites()));
    const d = await ps.applyBatch(P0, [tx(1, ev(1_700_000_002_000))]);
    expect(ps.decodes).toBe(1);
    expect(d.features(0)?.merchant?.windows[0]?.count).toBe(6);
  });

  it('holding every partition of the topic, a shared entity’s entries share one live view built from memory: the features of reads, no read after each partition’s first; reads again otherwise', async () => {
    const T = 1_700_000_000_000;
    const p1 = (offset: number, t: number) => ({ ...tx(offset, ev(t)), account: 'b', card: 'cb', device: 'd' });
    const p0 = (offset: number, t: number) => ({ ...tx(offset, ev(t)), device: 'd' });
    // The same batches through a process that refreshes from memory and one that always reads.
    const run = async (holdsAll: boolean) => {
      const store = new FakeEntityStore();
      let clock = 0;
      let all = holdsAll;
      const ps = new PartitionState(store, { windows: W, sharedRefreshMs: 1_000, now: () => clock, holdsAllOf: () => all });
      ps.hold(P0, null);
      ps.hold(P1, null);
      const asked: string[] = [];
      const read = store.read.bind(store);
      store.read = async (refs) => {
        asked.push(...refs.map((r) => `${r.kind}:${r.id}`));
        return read(refs);
      };
      const counts: number[] = [];
      const step = async (source: typeof P0, t: StateTransaction, at: number) => {
        clock = at;
        const b = await ps.applyBatch(source, [t]);
        counts.push(b.features(0)?.merchant?.windows[0]?.count ?? -1, b.features(0)?.device?.windows[0]?.count ?? -1);
      };
      await step(P0, p0(0, T), 0);
      await step(P1, p1(0, T + 100), 0); // P1's first read takes P0's entry from memory
      asked.length = 0;
      await step(P0, p0(1, T + 200), 1_000); // due: P0 never saw P1, which has events now: read
      const afterFirst = [...asked];
      asked.length = 0;
      await step(P1, p1(1, T + 300), 1_500);
      await step(P0, p0(2, T + 400), 2_000); // due: every other is P1's entry in memory
      await step(P1, p1(2, T + 500), 2_500); // due: every other is P0's entry in memory
      const afterSecond = [...asked];
      // Another process may hold a partition now: read again.
      all = false;
      asked.length = 0;
      await step(P0, p0(3, T + 600), 3_000);
      return { counts, afterFirst, afterSecond, afterThird: [...asked], memory: ps.memoryRefreshes };
    };
    const fromMemory = await run(true);
    const fromStore = await run(false);
    expect(fromMemory.counts).toEqual(fromStore.counts);
    expect(fromMemory.counts.slice(-2)).toEqual([7, 7]);
    // P1's first read took P0's entry from memory and formed the group; P0 never reads again.
    expect(fromMemory.afterFirst).toEqual([]);
    expect(fromStore.afterFirst).toEqual(['merchant:m', 'device:d']);
    expect(fromMemory.afterSecond).toEqual([]);
    expect(fromStore.afterSecond).toEqual(['merchant:m', 'device:d', 'merchant:m', 'device:d', 'merchant:m', 'device:d']);
    expect(fromMemory.afterThird).toEqual(['merchant:m', 'device:d']);
    // A group per entity at P0's first read (P0 alone), formed again at P1's.
    expect(fromMemory.memory).toBe(4);
    expect(fromStore.memory).toBe(0);
  });

  it('holding every partition, an entry pulled into a group while its own read was on its way shares the live view afterwards', async () => {
    const T = 1_700_000_000_000;
    const store = new FakeEntityStore();
    let clock = 0;
    let all = false;
    const ps = new PartitionState(store, { windows: W, sharedRefreshMs: 1_000, now: () => clock, holdsAllOf: () => all });
    ps.hold(P0, null);
    ps.hold(P1, null);
    const p1 = (offset: number, t: number) => ({ ...tx(offset, ev(t)), account: 'b', card: 'cb' });
    const counts: number[] = [];
    const run = async (b: Promise<Awaited<ReturnType<PartitionState['applyBatch']>>>) => {
      const batch = await b;
      counts.push(batch.features(0)?.merchant?.windows[1]?.count ?? -1);
      batch.confirm(await store.checkpoint(batch.checkpointWrites()));
    };
    await run(ps.applyBatch(P0, [tx(0, ev(T))]));
    await run(ps.applyBatch(P1, [p1(0, T + 100)]));
    // P0's next batch reads m (due, not holding every partition yet); its read waits.
    clock = 2_000;
    const open = holdNextRead(store, { answerFirst: false });
    const b0 = ps.applyBatch(P0, [tx(1, ev(T + 200))]);
    all = true;
    // Meanwhile P1's batch forms the group from memory, with P0's entry in it.
    await run(ps.applyBatch(P1, [p1(1, T + 300)]));
    open();
    await run(b0);
    for (let round = 2; round < 6; round++) {
      clock += 5_000;
      await run(ps.applyBatch(P0, [tx(round, ev(T + round * 1_000))]));
      await run(ps.applyBatch(P1, [p1(round, T + round * 1_000 + 100)]));
    }
    // Every event from the rounds on counts all before it, both partitions'.
    expect(counts.slice(4)).toEqual([5, 6, 7, 8, 9, 10, 11, 12]);
  });

  it('holding every partition, a read answered before a drop left a contribution in the store only does not form a group without it', async () => {
    const T = 1_700_000_000_000;
    const P2 = { topic: 'tx', partition: 2 };
    const store = new FakeEntityStore();
    let clock = 0;
    const ps = new PartitionState(store, { windows: W, sharedRefreshMs: 1_000, now: () => clock, holdsAllOf: () => true });
    for (const p of [P0, P1, P2]) ps.hold(p, null);
    const on = (p: number) => (offset: number, t: number) => ({ ...tx(offset, ev(t)), account: `a${p}`, card: `c${p}` });
    const counts: number[] = [];
    const step = async (p: number, offset: number, t: number) => {
      const b = await ps.applyBatch([P0, P1, P2][p]!, [on(p)(offset, t)]);
      counts.push(b.features(0)?.merchant?.windows[1]?.count ?? -1);
      b.confirm(await store.checkpoint(b.checkpointWrites()));
    };
    await step(1, 0, T);
    const b2 = await ps.applyBatch(P2, [on(2)(0, T + 100)]);
    // P0's first read of m is answered before P2's checkpoint, and handled after P2 was released
    // (its contribution then in the store only).
    const open = holdNextRead(store, { answerFirst: true });
    const b0 = ps.applyBatch(P0, [on(0)(0, T + 200)]);
    await Promise.resolve();
    b2.confirm(await store.checkpoint(b2.checkpointWrites()));
    // Released and held again, as a failed batch is before its retry.
    ps.release(P2.topic, P2.partition);
    ps.hold(P2, null);
    open();
    const first = await b0;
    first.confirm(await store.checkpoint(first.checkpointWrites()));
    // P0's batch counted what its read and memory held (P1's event and its own), not P2's.
    expect(first.features(0)?.merchant?.windows[1]?.count).toBe(2);
    for (let round = 1; round < 4; round++) {
      clock += 200;
      await step(0, round, T + round * 1_000);
      await step(1, round, T + round * 1_000 + 100);
    }
    // From then on every event counts all before it, P2's included.
    expect(counts).toEqual([1, 4, 5, 6, 7, 8, 9]);
  });

  it('holding every partition, with batches of other partitions run between a batch’s read and its apply and failed batches retried, every shared entity’s view is exact again once each partition has touched it', async () => {
    const P2 = { topic: 'tx', partition: 2 };
    await fc.assert(
      fc.asyncProperty(
        threeStreams(30),
        fc.array(
          fc.record({
            ...stepOf(10),
            // This batch's store read is answered at once and handed back after the next step ran.
            overlap: fc.boolean(),
            // A rebalance before this batch: everything released, and every partition known held
            // only once this many batches have started (main.ts learns it from the metadata).
            join: fc.constantFrom(0, 0, 0, 0, 0, 0, 0, 1, 2, 3),
            // After the batch's checkpoint, its partition released and held again (its next
            // batch failed): what it checkpointed is in the store only.
            releaseAfter: fc.integer({ min: 0, max: 3 }).map((k) => k === 0),
          }),
          { minLength: 4, maxLength: 24 },
        ),
        async (streams, steps) => {
          const store = new FakeEntityStore();
          let clock = 0;
          let all = true;
          const ps = new PartitionState(store, { windows: W, sharedRefreshMs: 1_000, now: () => clock, holdsAllOf: () => all });
          const sources = [P0, P1, P2];
          for (const s of sources) ps.hold(s, null);
          // The order the batches were applied in (what the brute force runs over): a committed
          // attempt's records join it when the stage applies them, whatever the interleaving.
          const order: StreamTx[] = [];
          const committing = new Map<number, StreamTx[]>();
          const stage = ps as unknown as { apply: (source: typeof P0, ...rest: unknown[]) => unknown };
          const apply = stage.apply.bind(ps);
          stage.apply = (source, ...rest) => {
            const slice = committing.get(source.partition);
            if (slice) order.push(...slice);
            committing.delete(source.partition);
            return apply(source, ...rest);
          };
          let gate: Promise<void> | null = null;
          const read = store.read.bind(store);
          store.read = async (refs) => {
            const wait = gate;
            const answer = await read(refs);
            if (wait) await wait;
            return answer;
          };
          const next = [0, 0, 0];
          let flipIn = 0;
          const txsOf = (p: number, slice: readonly StreamTx[], from: number) =>
            slice.map((t, j): StateTransaction => ({
              offset: BigInt(from + j),
              verdict: t.duplicate ? 'duplicate' : 'fresh',
              ...t,
            }));
          const attempt = async (p: number, slice: StreamTx[], from: number, fail: boolean) => {
            const source = sources[p]!;
            if (fail) {
              await ps.applyBatch(source, txsOf(p, slice, from));
              ps.release(source.topic, source.partition);
              ps.hold(source, null);
            }
            committing.set(p, slice);
            return ps.applyBatch(source, txsOf(p, slice, from));
          };
          const done = async (p: number, b: Awaited<ReturnType<typeof attempt>>, releaseAfter: boolean) => {
            b.confirm(await store.checkpoint(b.checkpointWrites()));
            if (!releaseAfter) return;
            ps.release(sources[p]!.topic, sources[p]!.partition);
            ps.hold(sources[p]!, null);
          };
          for (let i = 0; i < steps.length; i++) {
            const step = steps[i]!;
            const from = next[step.p]!;
            const slice = streams[step.p]!.slice(from, from + step.n);
            if (slice.length === 0) continue;
            next[step.p] = from + slice.length;
            clock += step.advanceMs;
            if (step.join > 0) {
              ps.releaseAll();
              for (const s of sources) ps.hold(s, null);
              all = false;
              flipIn = step.join;
            }
            // Learnt after the batch started (it read holdsAll at its start).
            const started = () => {
              if (flipIn > 0 && --flipIn === 0) all = true;
            };
            const after = steps[i + 1];
            if (step.overlap && after && after.p !== step.p) {
              let open: () => void = () => undefined;
              gate = new Promise<void>((resolve) => (open = resolve));
              const first = attempt(step.p, slice, from, false);
              started();
              gate = null;
              const afterFrom = next[after.p]!;
              const afterSlice = streams[after.p]!.slice(afterFrom, afterFrom + after.n);
              next[after.p] = afterFrom + afterSlice.length;
              if (afterSlice.length > 0) {
                const b = attempt(after.p, afterSlice, afterFrom, after.fail);
                started();
                await done(after.p, await b, after.releaseAfter);
              }
              open();
              await done(step.p, await first, step.releaseAfter);
              i++;
            } else {
              const b = attempt(step.p, slice, from, step.fail);
              started();
              await done(step.p, await b, step.releaseAfter);
            }
          }
          // Two rounds in which each partition touches every merchant and device, past any refresh
          // interval: the first may still rebuild views; in the second every feature is exact.
          const T = Math.max(1_700_000_000_000, ...order.map((t) => t.event.eventTime));
          all = true;
          for (let round = 0; round < 2; round++) {
            clock += 2_000;
            for (let p = 0; p < 3; p++) {
              const slice: StreamTx[] = [0, 1, 2, 3, 4].map((k) => ({
                account: `p${p}a0`,
                card: `p${p}a0c0`,
                merchant: `m${k}`,
                device: k < 4 ? `d${k}` : null,
                event: {
                  eventTime: T + 1_000 * round + 10 * k + p,
                  amountMinor: 100 + k,
                  merchantId: `m${k}`,
                  country: 'US',
                  lat: null,
                  lon: null,
                  late: false,
                },
                duplicate: false,
              }));
              const from = next[p]!;
              next[p] = from + slice.length;
              const at = order.length;
              const b = await attempt(p, slice, from, false);
              const expected = bruteForce(order, W);
              if (round === 1)
                slice.forEach((t, j) => {
                  for (const kind of ['merchant', 'device'] as const) {
                    const want = expected.byTx[at + j]!.get(kind);
                    const got = featuresOf(b.features(j)!, kind);
                    if (want === undefined) expect(got).toBeNull();
                    else
                      expectSame(
                        got!.slice(0, WC * 4),
                        featureArray(want).slice(0, WC * 4),
                        `settle p${p} ${kind} ${t.merchant}`,
                      );
                  }
                });
              await done(p, b, false);
            }
          }
        },
      ),
      { numRuns: 150 },
    );
  }, 60_000);

  it('holding every partition, a shared entity’s windows count every partition’s events before each one (the brute force in processing order), at any refresh interval, through failed batches retried', async () => {
    const P2 = { topic: 'tx', partition: 2 };
    await fc.assert(
      fc.asyncProperty(
        threeStreams(40),
        fc.array(fc.record(stepOf(12)), { minLength: 4, maxLength: 30 }),
        async (streams, steps) => {
          const store = new FakeEntityStore();
          let clock = 0;
          const ps = new PartitionState(store, { windows: W, sharedRefreshMs: 1_000, now: () => clock, holdsAllOf: () => true });
          const sources = [P0, P1, P2];
          for (const s of sources) ps.hold(s, null);
          const next = [0, 0, 0];
          const order: StreamTx[] = [];
          for (const step of steps) {
            const from = next[step.p]!;
            const slice = streams[step.p]!.slice(from, from + step.n);
            if (slice.length === 0) continue;
            clock += step.advanceMs;
            const source = sources[step.p]!;
            const txs = slice.map((t, j): StateTransaction => ({
              offset: BigInt(from + j),
              verdict: t.duplicate ? 'duplicate' : 'fresh',
              ...t,
            }));
            if (step.fail) {
              // Applied, then failed before its checkpoint: the partition is released and retried whole.
              await ps.applyBatch(source, txs);
              ps.release(source.topic, source.partition);
              ps.hold(source, null);
            }
            const batch = await ps.applyBatch(source, txs);
            next[step.p] = from + slice.length;
            const at = order.length;
            order.push(...slice);
            const expected = bruteForce(order, W);
            txs.forEach((t, j) => {
              if (t.verdict === 'duplicate') return;
              for (const kind of ['merchant', 'device'] as const) {
                const want = expected.byTx[at + j]!.get(kind);
                const got = featuresOf(batch.features(j)!, kind);
                if (want === undefined) expect(got).toBeNull();
                else expectSame(got!.slice(0, WC * 4), featureArray(want).slice(0, WC * 4), `p${step.p} tx ${from + j} ${kind}`);
              }
            });
            batch.confirm(await store.checkpoint(batch.checkpointWrites()));
          }
        },
      ),
      { numRuns: 100 },
    );
  }, 60_000);

  it('holding every partition, still reads a shared entity whose other contribution was decoded from the store', async () => {
    const store = new FakeEntityStore();
    let clock = 0;
    const other = new PartitionState(store, { windows: W });
    const o = await other.applyBatch(P1, [{ ...tx(0, ev(1_700_000_000_000)), account: 'b', card: 'cb' }]);
    o.confirm(await store.checkpoint(o.checkpointWrites()));
    const ps = new PartitionState(store, { windows: W, sharedRefreshMs: 1_000, now: () => clock, holdsAllOf: () => true });
    await ps.applyBatch(P0, [tx(0, ev(1_700_000_001_000))]);
    const reads = store.reads;
    clock = 1_000;
    const b = await ps.applyBatch(P0, [tx(1, ev(1_700_000_002_000))]);
    expect(store.reads).toBe(reads + 1);
    expect(ps.memoryRefreshes).toBe(0);
    expect(b.features(0)?.merchant?.windows[0]?.count).toBe(3);
  });

  it('rebuilds the view when own applied an event the merged view found stale', async () => {
    const store = new FakeEntityStore();
    const T = 1_700_000_000_000;
    const other = new PartitionState(store, { windows: W });
    const ob = await other.applyBatch(P1, [{ ...tx(0, ev(T + 1_000_000)), account: 'b', card: 'cb' }]);
    ob.confirm(await store.checkpoint(ob.checkpointWrites()));
    const ps = new PartitionState(store, { windows: W });
    // Stale at the merged head (p1's event is far later), applied in p0's own contribution.
    const b1 = await ps.applyBatch(P0, [tx(0, ev(T))]);
    expect(b1.features(0)?.merchant?.amountN).toBe(1);
    b1.confirm(await store.checkpoint(b1.checkpointWrites()));
    // p1 unchanged: the view is still rebuilt once, so it now holds p0's event too.
    const b2 = await ps.applyBatch(P0, [tx(1, ev(T + 1_000_001))]);
    expect(b2.features(0)?.merchant?.amountN).toBe(3);
  });
});
