/**
 * The state rebuild on a three-master Redis Cluster, driven directly: a master that loses its data
 * while the rebuild is writing must not end up under a marker of intact state.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cluster } from 'ioredis';
import { hashSlot } from '../../platform/keys.ts';
import { sleep } from '../../platform/retry.ts';
import { createPool, type Pool } from '../../platform/mysql.ts';
import { createStateRedis } from '../../platform/redis.ts';
import { ensureState, markerKeys, readMarker, rebuildDepsFor } from '../../processors/ingest/state-rebuild.ts';
import { WindowState } from '../../processors/ingest/state-store.ts';
import { registerFeatureLayout } from '../../sinks/feature-vector.ts';
import { startCluster, type TestCluster } from '../helpers/redis-cluster.ts';
import { createNamespace, type TestNamespace } from '../helpers/namespace.ts';
import { checkStateAgainstMysql } from '../helpers/state-check.ts';

// Its own ports: not those of the clusters of window-state.test.ts and cluster.e2e.test.ts.
const PORTS = [7121, 7122, 7123];
const ROWS = 400;

/** Transactions as the sink stores them (only what the rebuild and the state check read matters). */
async function insertTransactions(pool: Pool, topic: string): Promise<void> {
  const start = Date.parse('2026-03-01T10:00:00Z');
  // A snapshot of one feature: its own layout (the root test user registers it, as `txmon migrate` would).
  const layout = await registerFeatureLayout(pool, ['amount_base_minor']);
  const rows = Array.from({ length: ROWS }, (_, i) => [
    `tx-${i}`,
    `idem-${i}`,
    'AUTHORIZATION',
    `acc-${i % 37}`,
    `card-${i % 41}`,
    `m-${i % 13}`,
    '5411',
    ['GB', 'FR', 'US'][i % 3],
    1_000 + i,
    'GBP',
    new Date(start + i * 20_000),
    'ECOM',
    i % 5 === 0 ? null : `dev-${i % 29}`,
    `ref-${i}`,
    51.5 + (i % 7) / 10,
    -0.1,
    layout,
    JSON.stringify([1_000 + i]),
    topic,
    i % 3,
    i,
  ]);
  await pool.query(
    `INSERT INTO transactions (transaction_id, idempotency_key, type, account_id, card_token, merchant_id, mcc,
       merchant_country, amount_minor, currency, event_time, channel, device_id, reference, latitude, longitude,
       feature_layout, feature_values, src_topic, src_partition, src_offset) VALUES ?`,
    [rows],
  );
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
    expect((await readMarker(redis, ns.cfg.keyPrefix)).status).toBe('intact');
    // Windows only: these rows carry no stored snapshots to compare (the sink writes those).
    const check = await checkStateAgainstMysql(ns, { sampleSnapshots: 0 });
    expect(check.mismatches).toEqual([]);
    expect(check.entities).toBeGreaterThan(100);

    // Every master's marker starts from Kafka's committed offsets (progress.lua's fields).
    for (const key of markerKeys(redis, ns.cfg.keyPrefix)) {
      const fields = await redis.hgetall(key);
      expect(fields[`p:${topic}/0`]).toBe('120');
      expect(fields[`c:${topic}/0`]).toBe('120');
      expect(fields[`p:${topic}/1`]).toBeUndefined();
    }
    // So a Redis rolled back to this point, once Kafka has committed further, is noticed.
    const state = new WindowState(redis, {
      prefix: ns.cfg.keyPrefix,
      windows: ns.cfg.state.windows,
      dedupTtlSeconds: 3600,
      stateTtlSeconds: 3600,
      generation: (await readMarker(redis, ns.cfg.keyPrefix)).generation as number,
    });
    await state.apply([], { progress: { topic, partition: 0, next: '130', committed: 120n } });
    await expect(state.apply([], { progress: { topic, partition: 0, next: '400', committed: 130n } })).resolves.toEqual([]);
    const rolledBack = rebuildDepsFor(
      ns.cfg,
      { redis, pool },
      () => {},
      async () => committed,
    );
    await ensureState(rolledBack, { force: true });
    await expect(state.apply([], { progress: { topic, partition: 0, next: '410', committed: 400n } })).rejects.toThrow(
      /lost acknowledged writes/,
    );
  }, 120_000);

  it('keeps its lock through pauses longer than the lock TTL; a lock nobody renews (its process died) is gone within it', async () => {
    const lockKey = `${ns.cfg.keyPrefix}:state:marker:rebuild-lock`;
    const deps = { ...rebuildDepsFor(ns.cfg, { redis, pool }, () => {}), lockTtlMs: 1_000 };
    const ttls: number[] = [];
    const rebuilt = await ensureState(deps, {
      force: true,
      // Each step of the rebuild waits longer than the TTL: only the renewal timer keeps the lock.
      heartbeat: async () => {
        ttls.push(await redis.pttl(lockKey));
        await sleep(1_500);
      },
    });
    expect(rebuilt).toMatchObject({ outcome: 'rebuilt', rows: ROWS });
    expect(ttls.length).toBeGreaterThan(1);
    expect(Math.min(...ttls)).toBeGreaterThan(0);
    expect(Math.max(...ttls)).toBeLessThanOrEqual(1_000);

    await redis.set(lockKey, 'a-process-that-died', 'PX', 1_000);
    expect(await ensureState(deps, { force: true })).toEqual({ outcome: 'busy' });
    await sleep(1_100);
    expect(await ensureState(deps, { force: true })).toMatchObject({ outcome: 'rebuilt', rows: ROWS });
  }, 120_000);
});
