// Reading live aggregates from the partition-owned state on the real Redis (state/aggregates.ts):
// contributions written by PartitionState through EntityStore.checkpoint, for two partitions that
// share merchants and devices, read back and compared with a brute force from the events
// (domain/windows.ts aggregateBruteForce); and the dashboard's account route on top of it, with
// its 200, 404 and 503 answers. Each test writes under its own key prefix.
import { randomBytes } from 'node:crypto';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance } from 'fastify';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import errorsPlugin from '../../dashboard-api/plugins/errors.ts';
import accountRoutes from '../../dashboard-api/routes/accounts.ts';
import type { EntityEvent } from '../../domain/entity-features.ts';
import { DEFAULT_WINDOWS } from '../../domain/windows.ts';
import { stateMarkerKey } from '../../platform/keys.ts';
import type { TxmonRedis } from '../../platform/redis.ts';
import { readAggregates } from '../../state/aggregates.ts';
import { EntityStore } from '../../state/entity-store.ts';
import { writeMarker } from '../../state/marker.ts';
import { PartitionState } from '../../state/partition-state.ts';
import { aggregatesMismatch, eventsOf, expectedAggregates } from '../helpers/aggregate-streams.ts';
import { drive, entitiesOf, txStream } from '../helpers/partition-streams.ts';
import { connectScratchRedis, dropScratchRedis } from '../helpers/scratch-redis.ts';
import { DEFAULT_SCALE, SMALL_SCALE, type StreamScale } from '../helpers/window-streams.ts';

const root = `t-aggs-${randomBytes(4).toString('hex')}`;
const TOPIC = 'txmon.transactions.v1';
const P0 = { topic: TOPIC, partition: 0 };
const P1 = { topic: TOPIC, partition: 1 };
const TTL_MS = 600_000;
let redis: TxmonRedis;
let runs = 0;

beforeAll(async () => {
  redis = await connectScratchRedis(root);
});
afterAll(() => dropScratchRedis(redis, root));

async function twoPartitions(scale: StreamScale, numRuns: number): Promise<void> {
  let shared = 0;
  await fc.assert(
    fc.asyncProperty(
      txStream(scale, 'p0', 80),
      txStream(scale, 'p1', 80),
      fc.array(fc.integer({ min: 1, max: 30 }), { minLength: 1, maxLength: 5 }),
      async (s0, s1, cuts) => {
        // A generation other than 0: the reader addresses the store's generation, not a default.
        const store = new EntityStore(redis, { prefix: `${root}:${runs++}`, stateTtlMs: TTL_MS, generation: 2 });
        await drive(s0, store, { windows: scale.windows, source: P0, cuts, crashes: [] });
        await drive(s1, store, { windows: scale.windows, source: P1, cuts, crashes: [] });
        const refs = entitiesOf([...s0, ...s1]);
        const stored = await store.read(refs);
        const got = await readAggregates(store, scale.windows, refs);
        refs.forEach((ref, i) => {
          if ((stored[i]?.size ?? 0) === 2) shared++;
          const want = expectedAggregates([eventsOf(s0, ref), eventsOf(s1, ref)], scale.windows);
          expect(aggregatesMismatch(got[i] ?? null, want), `${ref.kind} ${ref.id}`).toBeNull();
        });
      },
    ),
    { numRuns },
  );
  // Merchants and devices come from pools both partitions draw from: most runs have shared ones.
  expect(shared).toBeGreaterThan(numRuns);
}

describe('readAggregates on the real Redis', () => {
  it('small windows: two partitions written through PartitionState and EntityStore equal the brute force', async () => {
    await twoPartitions(SMALL_SCALE, 15);
  });

  it('the default windows (1 min, 1 h, 24 h)', async () => {
    await twoPartitions(DEFAULT_SCALE, 6);
  });

  it('one round trip for a batch of entities, null for those with no state', async () => {
    const store = new EntityStore(redis, { prefix: `${root}:${runs++}`, stateTtlMs: TTL_MS });
    const ps = new PartitionState(store, { windows: DEFAULT_WINDOWS });
    const batch = await ps.applyBatch(P0, [
      { offset: 5n, verdict: 'fresh', account: 'a1', card: 'c1', merchant: 'm1', device: null, event: ev(T, 1_000) },
    ]);
    batch.confirm(await store.checkpoint(batch.checkpointWrites()));
    const before = store.roundTrips;
    const got = await readAggregates(store, DEFAULT_WINDOWS, [
      { kind: 'device', id: 'none' },
      { kind: 'merchant', id: 'm1' },
      { kind: 'account', id: 'nobody' },
    ]);
    expect(store.roundTrips - before).toBe(1);
    expect(got.map((a) => a?.windows[0]?.sumMinor ?? null)).toEqual([null, 1_000, null]);
  });
});

const T = Date.UTC(2026, 11, 4, 12, 0, 0);
const iso = (ms: number) => new Date(ms).toISOString();

function ev(eventTime: number, amountMinor: number | null, merchantId = 'm1', country = 'FR'): EntityEvent {
  return { eventTime, amountMinor, merchantId, country, lat: null, lon: null, late: false };
}

describe('GET /accounts/:accountId/aggregates', () => {
  let app: FastifyInstance;
  const prefix = `${root}:api`;

  beforeAll(async () => {
    app = Fastify().withTypeProvider<TypeBoxTypeProvider>();
    await app.register(errorsPlugin);
    await app.register(accountRoutes, {
      prefix: '/api/v1',
      redis,
      keyPrefix: prefix,
      windows: DEFAULT_WINDOWS,
      baseCurrency: 'EUR',
      stateTtlMs: TTL_MS,
    });
    await app.ready();
  });
  afterAll(() => app?.close());

  const get = (account: string) => app.inject({ url: `/api/v1/accounts/${account}/aggregates` });

  it('503 while the marker is missing or of another layout', async () => {
    const missing = await get('acc-1');
    expect(missing.statusCode).toBe(503);
    expect(missing.json().detail).toBe('the windowed state is not available (missing); the processors rebuild it from MySQL');
    await redis.set(stateMarkerKey(prefix), 'an older layout');
    const old = await get('acc-1');
    expect(old.statusCode).toBe(503);
    expect(old.json().detail).toBe('the windowed state is not available (old-layout); the processors rebuild it from MySQL');
    await redis.del(stateMarkerKey(prefix));
  });

  it('the account’s windows at its head, from the marker’s generation; 404 for an account with no state there', async () => {
    await writeMarker(redis, prefix, 3, { test: true });
    // State of generation 0 (a rebuild's old one) must not be read.
    const old = new EntityStore(redis, { prefix, stateTtlMs: TTL_MS, generation: 0 });
    const ps0 = new PartitionState(old, { windows: DEFAULT_WINDOWS });
    const b0 = await ps0.applyBatch(P0, [
      { offset: 1n, verdict: 'fresh', account: 'acc-old', card: 'c', merchant: 'm', device: null, event: ev(T, 5) },
    ]);
    await old.checkpoint(b0.checkpointWrites());

    const store = old.forGeneration(3);
    const ps = new PartitionState(store, { windows: DEFAULT_WINDOWS });
    const tx = (offset: bigint, event: EntityEvent) => ({
      offset,
      verdict: 'fresh' as const,
      account: 'acc-1',
      card: 'card-1',
      merchant: event.merchantId,
      device: null,
      event,
    });
    const batch = await ps.applyBatch(P1, [
      tx(10n, ev(T - 2 * 3_600_000, 1_000, 'm1', 'FR')), // only in the 24 h window
      tx(11n, ev(T - 10 * 60_000, 3_000, 'm2', 'DE')), // in 1 h and 24 h
      tx(12n, ev(T - 20_000, null, 'm2', 'DE')), // no FX rate: counted, not summed
      tx(13n, ev(T, 2_000, 'm3', 'FR')),
    ]);
    batch.confirm(await store.checkpoint(batch.checkpointWrites()));

    const res = await get('acc-1');
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({
      account_id: 'acc-1',
      base_currency: 'EUR',
      as_of_event_time: new Date(T).toISOString(),
      windows: [
        { window: '1m', count: 2, sum_base_minor: 2_000, distinct_merchants: 2, distinct_countries: 2 },
        { window: '1h', count: 3, sum_base_minor: 5_000, distinct_merchants: 2, distinct_countries: 2 },
        { window: '24h', count: 4, sum_base_minor: 6_000, distinct_merchants: 3, distinct_countries: 2 },
      ],
      amount: { n: 3, mean_base_minor: 2_000, std_base_minor: 1_000 },
      // The timeline: each window's buckets that hold an event, oldest first (T is on a 15-minute boundary).
      activity: [
        {
          window: '1m',
          bucket_ms: 5_000,
          buckets: [
            { start: iso(T - 20_000), count: 1, sum_base_minor: 0 },
            { start: iso(T), count: 1, sum_base_minor: 2_000 },
          ],
        },
        {
          window: '1h',
          bucket_ms: 60_000,
          buckets: [
            { start: iso(T - 600_000), count: 1, sum_base_minor: 3_000 },
            { start: iso(T - 60_000), count: 1, sum_base_minor: 0 },
            { start: iso(T), count: 1, sum_base_minor: 2_000 },
          ],
        },
        {
          window: '24h',
          bucket_ms: 900_000,
          buckets: [
            { start: iso(T - 7_200_000), count: 1, sum_base_minor: 1_000 },
            { start: iso(T - 900_000), count: 2, sum_base_minor: 3_000 },
            { start: iso(T), count: 1, sum_base_minor: 2_000 },
          ],
        },
      ],
    });

    const none = await get('acc-old');
    expect(none.statusCode).toBe(404);
    expect(none.json().detail).toBe("no live state for account acc-old (no transaction within the windows' TTL)");
  });
});
