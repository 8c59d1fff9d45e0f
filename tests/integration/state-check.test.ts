// The e2e tests' state check (tests/helpers/state-check.ts) against the partition-owned state, before
// the ingest processor writes it: two partitions' streams run through PartitionState into the real
// Redis (EntityStore.checkpoint, fenced contributions), and each transaction stored in MySQL as the
// sink stores it, with the features the stage gave it. The check must pass on that, and fail on a
// stored account feature that is wrong and on an event applied twice.
import fc from 'fast-check';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StaticFeatures } from '../../domain/enrich.ts';
import { snapshotFeatureNames, snapshotObject } from '../../domain/snapshot.ts';
import { createConnection } from '../../platform/mysql.ts';
import { createStateRedis } from '../../platform/redis.ts';
import { featureLayoutVersion } from '../../sinks/feature-vector.ts';
import { decodeWindowState, encodeWindowState } from '../../state/codec.ts';
import { EntityStore } from '../../state/entity-store.ts';
import { writeMarker } from '../../state/marker.ts';
import { PartitionState, type StateTransaction } from '../../state/partition-state.ts';
import { geometryOf } from '../../state/window-engine.ts';
import { topicName } from '../../topics/topics.ts';
import { createNamespace, type TestNamespace } from '../helpers/namespace.ts';
import { txStream, type StreamTx } from '../helpers/partition-streams.ts';
import { checkStateAgainstMysql } from '../helpers/state-check.ts';
import { DEFAULT_SCALE } from '../helpers/window-streams.ts';

let ns: TestNamespace;
let conn: Awaited<ReturnType<typeof createConnection>>;
let redis: ReturnType<typeof createStateRedis>;
let store: EntityStore;
let rows = 0;

beforeAll(async () => {
  ns = await createNamespace();
  conn = await createConnection(ns.cfg);
  redis = createStateRedis(ns.cfg);
  await redis.connect();
  store = new EntityStore(redis, { prefix: ns.cfg.keyPrefix, stateTtlMs: ns.cfg.state.ttlSeconds * 1000, generation: 1 });
});

afterAll(async () => {
  await conn?.end();
  redis?.disconnect();
  await ns?.cleanup();
});

/** Runs one partition's stream through the stage in batches and stores each transaction's row with its features. */
async function ingest(partition: number, stream: readonly StreamTx[], layout: number): Promise<void> {
  const windows = ns.cfg.state.windows;
  const names = snapshotFeatureNames(windows);
  const source = { topic: topicName(ns.cfg.topicNamespace, 'transactions'), partition };
  const ps = new PartitionState(store, { windows });
  for (let first = 0; first < stream.length; first += 25) {
    const txs: StateTransaction[] = stream.slice(first, first + 25).map((t, j) => ({
      offset: BigInt(first + j),
      verdict: t.duplicate ? 'duplicate' : 'fresh',
      ...t,
    }));
    const batch = await ps.applyBatch(source, txs);
    const values: unknown[][] = [];
    txs.forEach((t, j) => {
      const features = batch.features(j);
      if (t.verdict === 'duplicate' || features === null) return;
      const id = `tx-${partition}-${String(t.offset)}`;
      // Only the amount of the static enrichment matters to the windows; the rest stays unknown.
      const st = { amount_base_minor: t.event.amountMinor } as unknown as StaticFeatures;
      const snapshot = snapshotObject(st, features, windows);
      values.push([
        id,
        id,
        'AUTHORIZATION',
        t.account,
        t.card,
        t.merchant,
        '5999',
        t.event.country,
        t.event.amountMinor ?? 1,
        'EUR',
        new Date(t.event.eventTime),
        'ECOMMERCE',
        t.device,
        id,
        t.event.late,
        layout,
        JSON.stringify(names.map((n) => snapshot[n] ?? null)),
        source.topic,
        source.partition,
        String(t.offset),
      ]);
    });
    if (values.length > 0)
      await conn.query(
        `INSERT INTO transactions (transaction_id, idempotency_key, type, account_id, card_token, merchant_id, mcc,
           merchant_country, amount_minor, currency, event_time, channel, device_id, reference, late, feature_layout,
           feature_values, src_topic, src_partition, src_offset) VALUES ?`,
        [values],
      );
    rows += values.length;
    batch.confirm(await store.checkpoint(batch.checkpointWrites()));
  }
}

describe('checkStateAgainstMysql on the partition-owned state', () => {
  it('passes when Redis and every row agree with the rows before them; two partitions share merchants and devices', async () => {
    const layout = await featureLayoutVersion(conn, snapshotFeatureNames(ns.cfg.state.windows));
    expect(layout, 'txmon migrate registered the layout').not.toBeNull();
    // A row's merchant is its event's (the generated streams draw the two apart).
    const [s0, s1] = fc
      .sample(txStream(DEFAULT_SCALE, 'p0', 150), { numRuns: 2, seed: 17 })
      .map((s) => s.map((t) => ({ ...t, merchant: t.event.merchantId }))) as [StreamTx[], StreamTx[]];
    await writeMarker(redis, ns.cfg.keyPrefix, 1, { test: true });
    await ingest(0, s0, layout as number);
    // Partition 1's accounts and cards are its own ('p1…'); merchants and devices are shared.
    await ingest(
      1,
      s1.map((t) => ({ ...t, account: t.account.replace('p0', 'p1'), card: t.card.replace('p0', 'p1') })),
      layout as number,
    );
    const merchants = await store.read([0, 1, 2, 3, 4].map((i) => ({ kind: 'merchant' as const, id: `m${i}` })));
    expect(merchants.filter((m) => m.size === 2).length).toBeGreaterThan(0);

    const check = await checkStateAgainstMysql(ns, { sampleSnapshots: rows });
    expect(check.mismatches).toEqual([]);
    expect(check.entities).toBeGreaterThan(10);
  });

  it('fails on a stored account feature that disagrees with the rows before it', async () => {
    const names = snapshotFeatureNames(ns.cfg.state.windows);
    const k = names.indexOf('account_count_1h');
    const [[row]] = await conn.query<RowDataPacket[]>(
      'SELECT transaction_id, feature_values FROM transactions WHERE late = 0 ORDER BY id DESC LIMIT 1',
    );
    const id = String(row?.transaction_id);
    const original = String(row?.feature_values);
    const values = JSON.parse(original) as Array<number | null>;
    values[k] = (values[k] ?? 0) + 1;
    await conn.query('UPDATE transactions SET feature_values = ? WHERE transaction_id = ?', [JSON.stringify(values), id]);
    try {
      const check = await checkStateAgainstMysql(ns, { sampleSnapshots: rows });
      expect(
        check.mismatches.some((m) => m.startsWith(`account windows of ${id}:`)),
        check.mismatches.join('\n'),
      ).toBe(true);
      expect(check.mismatches).toHaveLength(1);
    } finally {
      await conn.query('UPDATE transactions SET feature_values = ? WHERE transaction_id = ?', [original, id]);
    }
  });

  it('fails on an event applied twice to a contribution', async () => {
    const [[row]] = await conn.query<RowDataPacket[]>(
      'SELECT account_id, merchant_id, merchant_country, src_partition FROM transactions WHERE late = 0 ORDER BY id DESC LIMIT 1',
    );
    const account = { kind: 'account' as const, id: String(row?.account_id) };
    const source = { topic: topicName(ns.cfg.topicNamespace, 'transactions'), partition: Number(row?.src_partition) };
    const [found] = await store.read([account]);
    const c = found?.get(`${source.topic}/${source.partition}`);
    expect(c).toBeDefined();
    const state = decodeWindowState(c?.blob as Buffer, geometryOf(ns.cfg.state.windows));
    // Once more at the head: inside every window, whatever came before.
    state.apply({
      eventTime: state.head as number,
      amountMinor: null,
      merchantId: String(row?.merchant_id),
      country: String(row?.merchant_country),
      lat: null,
      lon: null,
      late: false,
    });
    const [outcome] = await store.checkpoint([
      { ...account, source, fence: (c?.fence as bigint) + 1n, blob: encodeWindowState(state) },
    ]);
    expect(outcome?.written).toBe(true);
    const check = await checkStateAgainstMysql(ns, { sampleSnapshots: 0 });
    expect(
      check.mismatches.some((m) => m.startsWith(`account ${account.id} 1m:`)),
      check.mismatches.join('\n'),
    ).toBe(true);
  });
});
