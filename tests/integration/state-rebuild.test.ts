/**
 * The state rebuild (state/rebuild.ts) against the real MariaDB and Redis.
 *
 * - On the shared Redis (a scratch prefix): streams of three source partitions driven through
 *   PartitionState batch by batch (with crashes), checkpointed into the EntityStore, and stored as
 *   MySQL rows; then Redis is wiped and rebuilt from MySQL, and every entity's rebuilt contributions
 *   equal what the partition owners checkpointed. Also the intact, stale-generation and old-layout
 *   paths.
 * - On a three-master Redis Cluster: a master that loses its data while the rebuild is writing must
 *   not end up under a marker of intact state; the marker starts from Kafka's committed offsets; the
 *   lock survives pauses longer than its TTL and a dead process's lock expires.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cluster } from 'ioredis';
import { hashSlot, type EntityKind } from '../../platform/keys.ts';
import { sleep } from '../../platform/retry.ts';
import { createPool, type Pool } from '../../platform/mysql.ts';
import { createStateRedis, type TxmonRedis } from '../../platform/redis.ts';
import { execKeyed } from '../../platform/redis-pipelines.ts';
import { registerFeatureLayout } from '../../sinks/feature-vector.ts';
import { decodeWindowState } from '../../state/codec.ts';
import { EntityStore, type Contribution } from '../../state/entity-store.ts';
import { STATE_LAYOUT, deleteMarker, markerKeys, readMarker } from '../../state/marker.ts';
import { ensureState, rebuildDepsFor, type RebuildDeps } from '../../state/rebuild.ts';
import { EntityWindows, geometryOf, type WindowBuckets } from '../../state/window-engine.ts';
import { drive, entitiesOf, entityOf, txStream, type Crash, type StreamTx } from '../helpers/partition-streams.ts';
import { startCluster, type TestCluster } from '../helpers/redis-cluster.ts';
import { createNamespace, type TestNamespace } from '../helpers/namespace.ts';
import { connectScratchRedis, dropScratchRedis } from '../helpers/scratch-redis.ts';
import { SMALL_SCALE, SMALL_WINDOWS } from '../helpers/window-streams.ts';

const COLUMNS = `transaction_id, idempotency_key, type, account_id, card_token, merchant_id, mcc, merchant_country,
  amount_minor, currency, event_time, channel, device_id, reference, latitude, longitude, late, feature_layout,
  feature_values, src_topic, src_partition, src_offset`;

/** A transaction row as the sink stores it (only what the rebuild reads matters). */
function row(id: string, t: StreamTx, layout: number, src: { topic: string; partition: number; offset: number }): unknown[] {
  const e = t.event;
  return [
    id,
    `idem-${id}`,
    'AUTHORIZATION',
    t.account,
    t.card,
    t.merchant,
    '5411',
    e.country,
    e.amountMinor ?? 1,
    'GBP',
    new Date(e.eventTime),
    'ECOM',
    t.device,
    `ref-${id}`,
    e.lat,
    e.lon,
    e.late,
    layout,
    // A vector of one static feature, its own layout: the rebuild reads amount_base_minor by name.
    JSON.stringify([e.amountMinor]),
    src.topic,
    src.partition,
    src.offset,
  ];
}

/** A decoded state in a form that does not depend on the order its member maps were filled in. */
function canonical(blob: Buffer, geometry: ReturnType<typeof geometryOf>) {
  const s = decodeWindowState(blob, geometry);
  const members = (m: Map<string, number>) => [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return {
    head: s.head,
    amounts: [s.amountN, s.amountMean, s.amountM2],
    located: [s.locatedAt, s.locatedLat, s.locatedLon],
    windows: s.windows.map((_, w) => ({
      buckets: s.buckets(w),
      merchants: members(new Map(s.liveMembers(w, 'merchants'))),
      countries: members(new Map(s.liveMembers(w, 'countries'))),
    })),
  };
}

describe('state rebuild: contributions from MySQL', () => {
  const root = `t-rebuild-${randomBytes(4).toString('hex')}`;
  const prefix = `${root}:s`;
  const topic = 'txmon.transactions.v1';
  const W = SMALL_WINDOWS;
  let ns: TestNamespace;
  let pool: Pool;
  let redis: TxmonRedis;
  let deps: RebuildDeps;

  beforeAll(async () => {
    ns = await createNamespace();
    pool = createPool(ns.cfg);
    redis = await connectScratchRedis(root);
    deps = {
      redis,
      pool,
      state: new EntityStore(redis, { prefix, stateTtlMs: 3_600_000 }),
      prefix,
      windows: W,
      // Every generated row is inside the replayed range (the streams jump far past the windows).
      allowedLatenessMs: 365 * 86_400_000,
      progress: () => {},
    };
  }, 120_000);

  afterAll(async () => {
    await dropScratchRedis(redis, root);
    await pool?.end();
    await ns?.cleanup();
  });

  it('rebuilds exactly the contributions the partition owners checkpointed, per entity and source partition', async () => {
    const empty = await ensureState(deps);
    expect(empty).toMatchObject({ outcome: 'rebuilt', reason: 'missing', rows: 0, contributions: 0 });
    const g0 = (empty as { generation: number }).generation;
    const store = deps.state.forGeneration(g0);

    // Three partitions; merchants and devices are shared by all of them, accounts and cards are not.
    const partitions = [0, 1, 2];
    const streams = partitions.map((p) =>
      (fc.sample(txStream(SMALL_SCALE, `p${p}`, 150), { seed: 41 + p, numRuns: 1 })[0] as StreamTx[]).map((t) => ({
        ...t,
        // MySQL has one merchant column: the merchant entity is the event's merchant.
        event: { ...t.event, merchantId: t.merchant },
      })),
    );
    // Each stream ends with more late records of its last transaction's entities than a batch
    // holds: the owner's last batch changes nothing there and writes nothing, so its fences stay
    // below those rows, and the rebuild's must not differ in anything but the fence.
    for (const st of streams) {
      const last = st[st.length - 1] as StreamTx;
      for (let j = 0; j < 30; j++) st.push({ ...last, duplicate: false, event: { ...last.event, late: true } });
    }
    const crashes: Crash[] = ['none', 'afterMysql', 'none', 'partial', 'none', 'afterCheckpoint', 'reset', 'none'];
    for (const p of partitions)
      await drive(streams[p] as StreamTx[], store, {
        windows: W,
        source: { topic, partition: p },
        cuts: [17, 29, 11],
        crashes,
        cacheBytes: p === 1 ? 0 : undefined, // one owner re-reads every entity each batch
      });

    const layout = await registerFeatureLayout(pool, ['amount_base_minor']);
    const rows = partitions.flatMap((p) =>
      (streams[p] as StreamTx[]).flatMap((t, i) =>
        t.duplicate ? [] : [row(`p${p}-${i}`, t, layout, { topic, partition: p, offset: i })],
      ),
    );
    await pool.query(`INSERT INTO transactions (${COLUMNS}) VALUES ?`, [rows]);

    const entities = entitiesOf(streams.flat());
    const checkpointed = await store.read(entities);

    // Redis loses everything: the marker and every key of the prefix.
    await deleteMarker(redis, prefix);
    for (const key of await redis.keys(`${prefix}:*`)) await redis.del(key);
    expect((await readMarker(redis, prefix)).status).toBe('missing');

    const r = await ensureState(deps);
    expect(r).toMatchObject({ outcome: 'rebuilt', reason: 'missing', rows: rows.length });
    const generation = (r as { generation: number }).generation;
    expect(generation).toBeGreaterThan(g0);
    expect(await readMarker(redis, prefix)).toEqual({ status: 'intact', generation });
    const rebuilt = await deps.state.forGeneration(generation).read(entities);
    expect((r as { contributions: number }).contributions).toBe(rebuilt.reduce((n, m) => n + m.size, 0));

    const geometry = geometryOf(W);
    let sameBytes = 0;
    let compared = 0;
    let shared = 0;
    let lowerFences = 0;
    entities.forEach((ref, k) => {
      const want = checkpointed[k] as Map<string, Contribution>;
      const got = rebuilt[k] as Map<string, Contribution>;
      const what = `${ref.kind}:${ref.id}`;
      expect([...got.keys()].sort(), what).toEqual([...want.keys()].sort());
      if (got.size > 1) shared++;
      for (const [source, c] of want) {
        const partition = Number(source.split('/')[1]);
        const g = got.get(source) as Contribution;
        compared++;
        if (g.blob.equals(c.blob)) sameBytes++;
        else expect(canonical(g.blob, geometry), `${what} from ${source}`).toEqual(canonical(c.blob, geometry));
        // The fence is the highest offset of the entity's rows of that partition. The owner's is the
        // last offset of its last batch that changed the state, so it is the same, or lower only
        // when every row above it changed nothing (late or stale): applied to the owner's state they
        // leave it as it is.
        const mine = (streams[partition] as StreamTx[])
          .map((t, i) => ({ t, i }))
          .filter(({ t }) => !t.duplicate && entityOf(t, ref.kind as EntityKind) === ref.id);
        expect(g.fence, `${what} from ${source}`).toBe(BigInt(Math.max(...mine.map((x) => x.i))));
        expect(c.fence <= g.fence).toBe(true);
        if (c.fence < g.fence) lowerFences++;
        const s = decodeWindowState(c.blob, geometry);
        for (const { t, i } of mine) if (BigInt(i) > c.fence) s.apply(t.event);
        expect(s.revision, `${what}: rows above the owner's fence changed its state`).toBe(0);
      }
    });
    expect(compared).toBeGreaterThan(30);
    expect(shared).toBeGreaterThan(3); // merchants and devices with several contributions
    expect(lowerFences).toBeGreaterThan(0);
    // The codec writes the same bytes for the same state unless the member maps' order differs.
    expect(sameBytes).toBeGreaterThan(0);
    console.info(
      `rebuild: ${compared} contributions compared, ${sameBytes} byte-identical, ${shared} entities shared, ${lowerFences} owner fences below the last row`,
    );

    // Intact: nothing to do, the generation to work on.
    expect(await ensureState(deps)).toEqual({ outcome: 'intact', generation });
    // Only the new generation is left.
    const keys = await redis.keys(`${prefix}:g*`);
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.every((k) => k.startsWith(`${prefix}:g${generation}:`))).toBe(true);
  });

  it('rebuilds when MySQL moved to another generation than the marker (a rebuild that died after its bump)', async () => {
    const before = await readMarker(redis, prefix);
    expect(before.status).toBe('intact');
    await pool.query('UPDATE state_generation SET generation = generation + 1 WHERE id = 1');
    const r = await ensureState(deps);
    expect(r).toMatchObject({ outcome: 'rebuilt', reason: 'missing', generation: (before.generation as number) + 2 });
    expect(await readMarker(redis, prefix)).toEqual({ status: 'intact', generation: (before.generation as number) + 2 });
    // Forced (`txmon state rebuild`): rebuilt whatever the marker says, the same contributions again.
    const forced = await ensureState(deps, { force: true });
    expect(forced).toMatchObject({ outcome: 'rebuilt', reason: 'forced', rows: (r as { rows: number }).rows });
    expect((forced as { contributions: number }).contributions).toBe((r as { contributions: number }).contributions);
  });

  it('rebuilds state of layout 2 and deletes its keys (entity states and per-transaction keys of older generations)', async () => {
    const { generation } = await readMarker(redis, prefix);
    const g = generation as number;
    // What txmon of layout 2 left: its marker, a generation's msgpack states and per-transaction
    // keys, and layout 1's keys straight under the prefix.
    const old = [`${prefix}:g${g}:{a:p0a0}:st`, `${prefix}:g${g}:{a:p0a0}:tx:p0-1`, `${prefix}:g${g}:{m:m1}:tx:p1-3`];
    const layout1 = `${prefix}:{a:p0a0}:st`;
    for (const k of [...old, layout1]) await redis.set(k, 'x', 'PX', 600_000);
    for (const k of markerKeys(redis, prefix)) await redis.hset(k, 'meta', JSON.stringify({ layout: 2, generation: g }));
    expect((await readMarker(redis, prefix)).status).toBe('old-layout');

    const r = await ensureState(deps);
    expect(r).toMatchObject({ outcome: 'rebuilt', reason: 'old-layout', generation: g + 1 });
    for (const k of [...old, layout1]) expect(await redis.exists(k), k).toBe(0);
    const meta = JSON.parse((await redis.hget(markerKeys(redis, prefix)[0] as string, 'meta')) as string) as { layout: number };
    expect(meta.layout).toBe(STATE_LAYOUT);
    expect(STATE_LAYOUT).toBe(3);
  });
});

// Its own ports: not those of the clusters of window-state.test.ts and cluster.e2e.test.ts.
const PORTS = [7121, 7122, 7123];
const ROWS = 400;

/** Rows over 13 merchants and three partitions, 20 s apart (all inside the 24 h window). */
async function insertTransactions(pool: Pool, topic: string): Promise<void> {
  const start = Date.parse('2026-03-01T10:00:00Z');
  const layout = await registerFeatureLayout(pool, ['amount_base_minor']);
  const rows = Array.from({ length: ROWS }, (_, i) =>
    row(
      `tx-${i}`,
      {
        account: `acc-${i % 37}`,
        card: `card-${i % 41}`,
        merchant: `m-${i % 13}`,
        device: i % 5 === 0 ? null : `dev-${i % 29}`,
        duplicate: false,
        event: {
          eventTime: start + i * 20_000,
          amountMinor: 1_000 + i,
          merchantId: `m-${i % 13}`,
          country: ['GB', 'FR', 'US'][i % 3] as string,
          lat: 51.5 + (i % 7) / 10,
          lon: -0.1,
          late: false,
        },
      },
      layout,
      { topic, partition: i % 3, offset: i },
    ),
  );
  await pool.query(`INSERT INTO transactions (${COLUMNS}) VALUES ?`, [rows]);
}

describe('state rebuild on a Redis Cluster', () => {
  let cluster: TestCluster;
  let ns: TestNamespace;
  let pool: Pool;
  let redis: Cluster;

  beforeAll(async () => {
    cluster = await startCluster(PORTS);
    ns = await createNamespace({ TXMON_REDIS_CLUSTER_NODES: PORTS.map((p) => `127.0.0.1:${p}`).join(',') });
    pool = createPool(ns.cfg);
    await insertTransactions(pool, `${ns.id}.txmon.transactions.v1`);
    redis = createStateRedis(ns.cfg) as Cluster;
    await redis.connect();
  }, 120_000);

  afterAll(async () => {
    redis?.disconnect();
    await pool?.end();
    await ns?.cleanup();
    await cluster?.stop();
  });

  /** Each merchant's rebuilt contributions: one per partition, fenced at its last row, together every row. */
  async function expectMerchants(generation: number): Promise<void> {
    const store = new EntityStore(redis, { prefix: ns.cfg.keyPrefix, stateTtlMs: 60_000, generation });
    const merchants = Array.from({ length: 13 }, (_, m) => ({ kind: 'merchant' as const, id: `m-${m}` }));
    const found = await store.read(merchants);
    const geometry = geometryOf(ns.cfg.state.windows);
    const topic = `${ns.id}.txmon.transactions.v1`;
    merchants.forEach((ref, m) => {
      const mine = Array.from({ length: ROWS }, (_, i) => i).filter((i) => i % 13 === m);
      const got = found[m] as Map<string, Contribution>;
      expect([...got.keys()].sort()).toEqual([0, 1, 2].map((p) => `${topic}/${p}`));
      const merged = new EntityWindows(geometry);
      for (const [source, c] of got) {
        const p = Number(source.split('/').pop());
        expect(c.fence).toBe(BigInt(Math.max(...mine.filter((i) => i % 3 === p))));
        merged.merge(decodeWindowState(c.blob, geometry));
      }
      const day = merged.windows[merged.windows.length - 1] as WindowBuckets;
      expect(day.count, ref.id).toBe(mine.length);
      expect(day.sum, ref.id).toBe(mine.reduce((s, i) => s + 1_000 + i, 0));
    });
  }

  it('starts over when a master loses its data mid-rebuild, then rebuilds the same windows', async () => {
    const lockNode = redis.slots[hashSlot(`${ns.cfg.keyPrefix}:state:marker:rebuild-lock`)]?.[0];
    const victim = PORTS.find((p) => `127.0.0.1:${p}` !== lockNode) as number;
    let flushed = false;
    let heartbeats = 0;
    const sabotaged = rebuildDepsFor(ns.cfg, { redis, pool }, (line) => {
      // After the replay has written to every master: one that does not hold the lock comes back
      // empty (synchronously, so it happens before the rebuild's next step).
      if (!flushed && /replayed/.test(line)) {
        flushed = true;
        execFileSync('redis-cli', ['-p', String(victim), 'FLUSHALL']);
      }
    });
    const first = ensureState(sabotaged, { heartbeat: async () => void heartbeats++ });
    await expect(first).rejects.toThrow(/lost its data while the state was being rebuilt/);
    expect(flushed).toBe(true);
    expect(heartbeats).toBeGreaterThan(0);
    // No marker of intact state: every processor keeps waiting for a rebuild.
    expect((await readMarker(redis, ns.cfg.keyPrefix)).status).toBe('missing');

    const topic = `${ns.id}.txmon.transactions.v1`;
    const committed = [
      { topic, partition: 0, offset: '120' },
      { topic, partition: 1, offset: '-1' }, // nothing committed yet
    ];
    const again = await ensureState(
      rebuildDepsFor(
        ns.cfg,
        { redis, pool },
        () => {},
        async () => committed,
      ),
    );
    expect(again).toMatchObject({ outcome: 'rebuilt', rows: ROWS });
    const generation = (again as { generation: number }).generation;
    expect(await readMarker(redis, ns.cfg.keyPrefix)).toEqual({ status: 'intact', generation });
    await expectMerchants(generation);

    // Every master's marker starts from Kafka's committed offsets (progress.lua's fields).
    const markers = markerKeys(redis, ns.cfg.keyPrefix);
    expect(markers.length).toBe(3);
    for (const key of markers) {
      const fields = await redis.hgetall(key);
      expect(fields[`p:${topic}/0`]).toBe('120');
      expect(fields[`c:${topic}/0`]).toBe('120');
      expect(fields[`p:${topic}/1`]).toBeUndefined();
    }
    // So a Redis rolled back to this point, once Kafka has committed further, is noticed.
    // progress.lua as a batch runs it: on each master's own client (platform/redis-pipelines.ts).
    const progress = async (next: string, before: string) => {
      const replies = await execKeyed(
        redis,
        markers.map((key) => ({ key, add: (p) => void p.txmonProgressV4(1, key, `p:${topic}/0`, next, before) })),
      );
      return replies.map(([err, reply]) => {
        if (err) throw err;
        return reply as Array<number | string>;
      });
    };
    for (const reply of await progress('130', '120')) expect(reply[0]).toBe(1);
    for (const reply of await progress('400', '130')) expect(reply[0]).toBe(1);
    await ensureState(
      rebuildDepsFor(
        ns.cfg,
        { redis, pool },
        () => {},
        async () => committed,
      ),
      { force: true },
    );
    const rolledBack = await progress('410', '400');
    for (const reply of rolledBack) expect([reply[0], reply[2]]).toEqual([2, '120']);
    expect((await readMarker(redis, ns.cfg.keyPrefix)).status).toBe('missing');
  }, 120_000);

  it('keeps its lock through pauses longer than the lock TTL; a lock nobody renews (its process died) is gone within it', async () => {
    const lockKey = `${ns.cfg.keyPrefix}:state:marker:rebuild-lock`;
    const deps = { ...rebuildDepsFor(ns.cfg, { redis, pool }, () => {}), lockTtlMs: 1_000 };
    const ttls: number[] = [];
    const rebuilt = await ensureState(deps, {
      force: true,
      // The first three steps of the rebuild each wait longer than the TTL: only the renewal timer
      // keeps the lock through them (later steps go on at full speed; three pauses prove it).
      heartbeat: async () => {
        ttls.push(await redis.pttl(lockKey));
        if (ttls.length <= 3) await sleep(1_500);
      },
    });
    expect(rebuilt).toMatchObject({ outcome: 'rebuilt', rows: ROWS });
    expect(ttls.length).toBeGreaterThan(1);
    expect(Math.min(...ttls)).toBeGreaterThan(0);
    expect(Math.max(...ttls)).toBeLessThanOrEqual(1_000);
    await expectMerchants((rebuilt as { generation: number }).generation);

    await redis.set(lockKey, 'a-process-that-died', 'PX', 1_000);
    expect(await ensureState(deps, { force: true })).toEqual({ outcome: 'busy' });
    await sleep(1_100);
    expect(await ensureState(deps, { force: true })).toMatchObject({ outcome: 'rebuilt', rows: ROWS });
  }, 120_000);
});
