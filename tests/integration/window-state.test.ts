// The stateful core's Lua scripts against the real Redis: dedup verdicts, replay, crash between
// scripts, TTLs, and a property test against the brute-force reference (domain/entity-features.ts).
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/config.ts';
import { entityFeaturesBruteForce, type EntityEvent, type EntityFeatures } from '../../domain/entity-features.ts';
import { DEFAULT_WINDOWS, type WindowSpec } from '../../domain/windows.ts';
import type { Cluster } from 'ioredis';
import { entityKeys, hashSlot, stateMarkerKey, type EntityKind } from '../../platform/keys.ts';
import type { StateRedis } from '../../platform/redis-pipelines.ts';
import { startCluster, type TestCluster } from '../helpers/redis-cluster.ts';
import { createStateRedis, type TxmonRedis } from '../../platform/redis.ts';
import { errorMessage } from '../../platform/errors.ts';
import { sleep } from '../../platform/retry.ts';
import { writeMarker } from '../../state/marker.ts';
import { WindowState, type StateEvent, type StateResult } from '../../processors/ingest/state-store.ts';
import { connectScratchRedis, dropScratchRedis } from '../helpers/scratch-redis.ts';

const root = `t-state-${randomBytes(4).toString('hex')}`;
let redis: TxmonRedis;
let runs = 0;

/** Small windows, so short random streams slide them often. */
const SMALL: WindowSpec[] = [
  { name: '10s', lengthMs: 10_000, bucketMs: 2_000 },
  { name: '1m', lengthMs: 60_000, bucketMs: 10_000 },
];

async function store(
  windows: readonly WindowSpec[] = SMALL,
  stateTtlSeconds = 3600,
  client: StateRedis = redis,
): Promise<WindowState> {
  const prefix = `${root}:${runs++}`;
  await client.ping(); // (a cluster client knows its slot map once connected)
  await writeMarker(client, prefix, 0, { test: true });
  return new WindowState(client, { prefix, windows, dedupTtlSeconds: 3600, stateTtlSeconds });
}

function event(over: Partial<StateEvent> = {}): StateEvent {
  return {
    transactionId: 'tx-1',
    accountId: 'acc-1',
    cardToken: 'card-1',
    merchantId: 'm-1',
    deviceId: 'dev-1',
    position: 'topic/0/0',
    eventTime: 1_700_000_000_000,
    amountBaseMinor: 1_000,
    country: 'US',
    lat: 40.7,
    lon: -74,
    late: false,
    extra: '{"s":1}',
    ...over,
  };
}

beforeAll(async () => {
  redis = await connectScratchRedis(root);
});
afterAll(() => dropScratchRedis(redis, root));

function approxEqual(actual: EntityFeatures | null, expected: EntityFeatures | null | undefined, what: string) {
  expect(actual, what).not.toBeNull();
  const a = actual as EntityFeatures;
  const e = expected as EntityFeatures;
  expect(a.windows, `${what} windows`).toEqual(e.windows);
  expect(a.amountN, `${what} n`).toBe(e.amountN);
  expect(a.sincePrevMs, `${what} sincePrev`).toBe(e.sincePrevMs);
  // Redis's libm and V8's may differ in the last bits of the trigonometry (travel) and sqrt of sums.
  for (const k of ['amountMean', 'amountStd', 'travelKm', 'travelKmh'] as const) {
    const x = a[k];
    const y = e[k];
    if (y === null) expect(x, `${what} ${k}`).toBeNull();
    else expect(Math.abs((x as number) - y), `${what} ${k}: ${x} vs ${y}`).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(y)));
  }
}

describe('account-state.lua and entity-state.lua', () => {
  it('tells new, replay and duplicate apart; a replay returns the stored features and changes nothing', async () => {
    const s = await store();
    const [first] = await s.apply([event()]);
    expect(first?.status).toBe('new');
    const [second] = await s.apply(
      [event({ position: 'topic/0/7', eventTime: 1_700_000_001_000 })].map((e) => ({ ...e, transactionId: 'tx-2' })),
    );
    const [replay] = await s.apply([event()]);
    expect(replay).toEqual({ ...(first as StateResult), status: 'replay' });
    const [dup] = await s.apply([event({ position: 'topic/3/99', amountBaseMinor: 5 })]);
    expect(dup).toEqual({ status: 'duplicate', firstSeen: 'topic/0/0' });
    // Nothing changed: a third transaction sees exactly the first two.
    const [third] = await s.apply([event({ transactionId: 'tx-3', position: 'topic/0/8', eventTime: 1_700_000_002_000 })]);
    if (third?.status !== 'new' || second?.status !== 'new') throw new Error('expected new');
    expect(third.features.account?.windows[0]).toEqual({ count: 3, sumMinor: 3_000, distinctMerchants: 1, distinctCountries: 1 });
    expect(third.features.card?.windows[0]?.count).toBe(3);
    expect(third.features.device?.windows[0]?.count).toBe(3);
    expect(third.extra).toBe('{"s":1}');
  });

  it('flags a second copy within one call as a duplicate and keeps it away from other entities', async () => {
    const s = await store();
    const results = await s.apply([
      event(),
      event({ position: 'topic/0/1', cardToken: 'card-OTHER' }),
      event({ transactionId: 'tx-2', position: 'topic/0/2' }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['new', 'duplicate', 'new']);
    const last = results[2];
    if (last?.status !== 'new') throw new Error('expected new');
    expect(last.features.card?.windows[0]?.count).toBe(2);
    // The re-send's other card was never touched.
    const [other] = await s.apply([event({ transactionId: 'tx-9', position: 'topic/0/3', cardToken: 'card-OTHER' })]);
    if (other?.status !== 'new') throw new Error('expected new');
    expect(other.features.card?.windows[0]?.count).toBe(1);
  });

  it('is safe when a crash left only some entity scripts applied', async () => {
    const s = await store();
    const evs = [
      event(),
      event({ transactionId: 'tx-2', position: 'topic/0/1', eventTime: 1_700_000_003_000, amountBaseMinor: 250 }),
    ];
    // The card and merchant scripts ran, then the process died before the account's and device's.
    await redis.txmonEntityStateV2Buffer(...s.args('card', 'card-1', evs, 3600));
    await redis.txmonEntityStateV2Buffer(...s.args('merchant', 'm-1', evs, 3600));
    const once = await s.apply(evs);
    const fresh = await store();
    const clean = await fresh.apply(evs);
    expect(once).toEqual(clean);
  });

  it('refuses to run on lost state: the marker is checked after the scripts', async () => {
    const s = await store();
    await s.apply([event()]);
    await redis.del(stateMarkerKey(`${root}:${runs - 1}`));
    await expect(s.apply([event({ transactionId: 'tx-2', position: 'topic/0/1' })])).rejects.toThrow(/state marker missing/);
  });

  it('records partition progress in the marker and notices when Redis went back behind Kafka', async () => {
    const s = await store();
    const marker = stateMarkerKey(`${root}:${runs - 1}`);
    const at = (next: string, committed?: bigint) => ({ topic: 'topic', partition: 3, next, committed });
    await s.apply([event()], { progress: at('1') });
    expect(await redis.hget(marker, 'p:topic/3')).toBe('1');
    // A batch of dead letters only (no events) still records its offset.
    await s.apply([], { progress: at('5', 1n) });
    expect(await redis.hget(marker, 'p:topic/3')).toBe('5');
    // A replay from an earlier committed offset (a crash before the commit, a reset) is fine, and
    // cannot lower what the marker says.
    await s.apply([event()], { progress: at('1', 0n) });
    expect(await redis.hget(marker, 'p:topic/3')).toBe('5');
    // Redis rolled back (a failover to a lagging replica): it has offset 1, Kafka committed 5.
    await redis.hset(marker, 'p:topic/3', '1');
    await expect(s.apply([event({ transactionId: 'tx-9', position: 'topic/3/5' })], { progress: at('6', 5n) })).rejects.toThrow(
      /lost acknowledged writes: it had p:topic\/3 up to offset 1, Kafka's committed offset is 5/,
    );
    // Offsets compare as numbers, not text: 99 is behind 100, 100 is not behind 99.
    await writeMarker(redis, `${root}:${runs - 1}`, 0, {});
    await redis.hset(marker, 'p:topic/3', '100');
    await s.apply([], { progress: at('101', 99n) });
    await redis.hset(marker, 'p:topic/3', '99');
    await expect(s.apply([], { progress: at('101', 100n) })).rejects.toThrow(/up to offset 99, Kafka's committed offset is 100/);
    // The marker is gone, so the windows get rebuilt; without a marker nothing recreates it.
    expect(await redis.exists(marker)).toBe(0);
    await expect(s.apply([], { progress: at('6', 5n) })).rejects.toThrow(/state marker missing/);
    expect(await redis.exists(marker)).toBe(0);
  });

  it('keeps late events out of the windows but still returns their features', async () => {
    const s = await store();
    const [a] = await s.apply([event()]);
    const [late] = await s.apply([event({ transactionId: 'tx-late', position: 'topic/0/1', late: true, amountBaseMinor: 9 })]);
    const [b] = await s.apply([event({ transactionId: 'tx-2', position: 'topic/0/2' })]);
    if (a?.status !== 'new' || late?.status !== 'new' || b?.status !== 'new') throw new Error('expected new');
    expect(late.features.account?.windows[0]?.count).toBe(1);
    expect(b.features.account?.windows[0]).toEqual({ count: 2, sumMinor: 2_000, distinctMerchants: 1, distinctCountries: 1 });
    expect(b.features.account?.amountN).toBe(2);
  });

  it('keeps sums and means exact beyond 2^32 and beyond 14 significant digits', async () => {
    const s = await store();
    const big = 123_456_789_012_345; // 15 digits: JSON from Lua (cjson) would round it
    const [a] = await s.apply([event({ amountBaseMinor: big })]);
    const [b] = await s.apply([event({ transactionId: 'tx-2', position: 'topic/0/1', amountBaseMinor: 1 })]);
    if (a?.status !== 'new' || b?.status !== 'new') throw new Error('expected new');
    expect(a.features.merchant?.windows[0]?.sumMinor).toBe(big);
    expect(b.features.account?.windows[0]?.sumMinor).toBe(big + 1);
    expect(b.features.card?.amountMean).toBe((big + 1) / 2);
    const [replay] = await s.apply([event({ transactionId: 'tx-2', position: 'topic/0/1', amountBaseMinor: 1 })]);
    expect(replay).toEqual({ ...b, status: 'replay' });
  });

  it('sets a TTL on every key it writes', async () => {
    const s = await store(DEFAULT_WINDOWS, 7200);
    await s.apply([event(), event({ transactionId: 'tx-2', position: 'topic/0/1', deviceId: null })]);
    const prefix = `${root}:${runs - 1}:`;
    const keys = await redis.keys(`${prefix}*`);
    // account, card, merchant: state hash + 2 tx; device: state + 1; the marker
    expect(keys.length).toBe(3 + 3 + 3 + 2 + 1);
    for (const k of keys.filter((x) => x !== stateMarkerKey(prefix.slice(0, -1)))) {
      const ttl = await redis.pttl(k);
      expect(ttl, k).toBeGreaterThan(0);
      expect(ttl, k).toBeLessThanOrEqual(k.includes('{a:') && k.includes(':tx:') ? 3_600_000 : 7_200_000);
    }
  });
});

interface Gen {
  account: number;
  card: number;
  merchant: number;
  device: number | null;
  country: number;
  dt: number;
  amount: number | null;
  located: boolean;
  late: boolean;
  /** Re-send an earlier transaction instead (index into the stream so far). */
  dupOf: number | null;
}

const genEvent: fc.Arbitrary<Gen> = fc.record({
  account: fc.integer({ min: 0, max: 1 }),
  card: fc.integer({ min: 0, max: 2 }),
  merchant: fc.integer({ min: 0, max: 3 }),
  device: fc.option(fc.integer({ min: 0, max: 1 })),
  country: fc.integer({ min: 0, max: 2 }),
  // Mostly forward, sometimes out of order, sometimes a jump past every window.
  dt: fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min: 0, max: 4_000 }) },
    { weight: 2, arbitrary: fc.integer({ min: -15_000, max: 0 }) },
    { weight: 1, arbitrary: fc.integer({ min: 50_000, max: 200_000 }) },
  ),
  amount: fc.option(fc.integer({ min: 1, max: 1_000_000 }), { freq: 8 }),
  located: fc.boolean(),
  late: fc.integer({ min: 0, max: 9 }).map((n) => n < 3),
  dupOf: fc.option(fc.nat(), { freq: 6 }),
});

/** The property: for random streams, every feature equals the brute-force recomputation; replays change nothing. */
async function windowsEqualBruteForce(client: StateRedis, numRuns: number): Promise<void> {
  await fc.assert(
    fc.asyncProperty(
      fc.array(genEvent, { minLength: 1, maxLength: 150, size: 'large' }),
      fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 20 }),
      fc.nat(),
      async (gens, batchSizes, replayFrom) => {
        const s = await store(SMALL, 3600, client);
        const t0 = 1_700_000_000_000;
        let t = t0;
        const deliveries: StateEvent[] = [];
        gens.forEach((g, i) => {
          if (g.dupOf !== null && deliveries.length > 0) {
            const orig = deliveries[g.dupOf % deliveries.length] as StateEvent;
            deliveries.push({ ...orig, position: `topic/0/${i}`, late: g.late });
            return;
          }
          t = Math.max(t0, t + g.dt);
          deliveries.push({
            transactionId: `tx-${i}`,
            accountId: `a${g.account}`,
            cardToken: `c${g.card}`,
            merchantId: `m${g.merchant}`,
            deviceId: g.device === null ? null : `d${g.device}`,
            position: `topic/0/${i}`,
            eventTime: t,
            amountBaseMinor: g.amount,
            country: ['US', 'FR', 'DE'][g.country] as string,
            lat: g.located ? 40 + g.card : null,
            lon: g.located ? -70 - g.merchant : null,
            late: g.late,
            extra: `x${i}`,
          });
        });
        const results: StateResult[] = [];
        for (let i = 0, b = 0; i < deliveries.length; b++) {
          const size = batchSizes[b % batchSizes.length] as number;
          results.push(...(await s.apply(deliveries.slice(i, i + size))));
          i += size;
        }

        // Reference: each entity sees the first copy of each transaction id, in arrival order.
        const firsts = new Map<string, number>();
        deliveries.forEach((d, i) => firsts.has(d.transactionId) || firsts.set(d.transactionId, i));
        const kinds: Array<[EntityKind, (d: StateEvent) => string | null]> = [
          ['account', (d) => d.accountId],
          ['card', (d) => d.cardToken],
          ['merchant', (d) => d.merchantId],
          ['device', (d) => d.deviceId],
        ];
        for (const [kind, idOf] of kinds) {
          const byEntity = new Map<string, number[]>();
          for (const i of firsts.values()) {
            const id = idOf(deliveries[i] as StateEvent);
            if (id === null) continue;
            byEntity.set(id, [...(byEntity.get(id) ?? []), i]);
          }
          for (const [id, idx] of byEntity) {
            idx.sort((x, y) => x - y);
            const evs: EntityEvent[] = idx.map((i) => {
              const d = deliveries[i] as StateEvent;
              return {
                eventTime: d.eventTime,
                amountMinor: d.amountBaseMinor,
                merchantId: d.merchantId,
                country: d.country,
                lat: d.lat,
                lon: d.lon,
                late: d.late,
              };
            });
            const expected = entityFeaturesBruteForce(evs, SMALL);
            idx.forEach((i, j) => {
              const r = results[i] as StateResult;
              expect(r.status, `delivery ${i}`).toBe('new');
              if (r.status !== 'duplicate') approxEqual(r.features[kind], expected[j], `${kind} ${id} event ${j}`);
            });
          }
        }
        for (const [i, d] of deliveries.entries()) {
          const r = results[i] as StateResult;
          if (firsts.get(d.transactionId) !== i)
            expect(r).toEqual({ status: 'duplicate', firstSeen: `topic/0/${firsts.get(d.transactionId)}` });
        }

        // Replay a suffix (crash, rebalance, offset reset): identical results, nothing changes.
        const from = replayFrom % deliveries.length;
        const again = await s.apply(deliveries.slice(from));
        again.forEach((r, j) => {
          const orig = results[from + j] as StateResult;
          expect(r).toEqual(orig.status === 'new' ? { ...orig, status: 'replay' } : orig);
        });
      },
    ),
    { numRuns },
  );
}

describe('property: Redis windows equal the brute-force recomputation', () => {
  it('for random streams with duplicates, replays, out-of-order and late events, in random batches', async () => {
    await windowsEqualBruteForce(redis, 100);
  });
});

describe('on a Redis Cluster (three masters)', () => {
  let cluster: TestCluster;
  let client: Cluster;
  beforeAll(async () => {
    cluster = await startCluster();
    client = cluster.client();
    await client.ping();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('runs every script with its keys in one slot (Redis refuses cross-slot scripts), batches spread over the nodes', async () => {
    const s = await store(SMALL, 3600, client);
    const evs = Array.from({ length: 40 }, (_, i) =>
      event({
        transactionId: `tx-${i}`,
        accountId: `acc-${i % 7}`,
        cardToken: `card-${i % 5}`,
        position: `topic/0/${i}`,
        eventTime: 1_700_000_000_000 + i * 700,
      }),
    );
    const results = await s.apply(evs);
    expect(results.every((r) => r.status === 'new')).toBe(true);
    // The entities' slots really are on different masters.
    const nodes = new Set(
      evs.map((e) => client.slots[hashSlot(entityKeys(`${root}:${runs - 1}`, 'account', e.accountId).state)]?.[0]),
    );
    expect(nodes.size).toBeGreaterThan(1);
    const again = await s.apply(evs);
    expect(again.map((r) => r.status)).toEqual(evs.map(() => 'replay'));
  });

  it('gives the same windows as the brute-force recomputation', async () => {
    await windowsEqualBruteForce(client, 30);
  });
  it('reconnects by itself to a master that restarted, and reads its lost data as lost state', async () => {
    const stateRedis = createStateRedis(
      loadConfig({ ...process.env, TXMON_REDIS_CLUSTER_NODES: cluster.ports.map((p) => `127.0.0.1:${p}`).join(',') }),
    );
    await stateRedis.connect();
    try {
      const s = await store(SMALL, 3600, stateRedis);
      await s.apply([event()]);
      await cluster.restart(cluster.ports[1] as number); // back empty: the test cluster keeps nothing on disk
      let outcome = '';
      for (let i = 0; i < 150 && !/state marker missing/.test(outcome); i++) {
        try {
          await s.apply([event({ transactionId: `tx-r${i}`, position: `topic/0/${100 + i}` })]);
          outcome = 'applied';
        } catch (err) {
          outcome = errorMessage(err);
          await sleep(100);
        }
      }
      // Not "cluster node ... is not connected" for ever: the client found the node again, and the
      // node's missing marker says its state is gone.
      expect(outcome).toMatch(/state marker missing/);
    } finally {
      stateRedis.disconnect();
    }
  });
});
