/**
 * Checks the Redis window state of a namespace against a recomputation from MySQL's rows: for every
 * account, card, merchant and device, the window counts, sums and distinct counts at the entity's
 * head (its contributions merged, state/aggregates.ts) must equal a brute-force aggregate of its
 * non-late transactions. Order-independent, so it holds after any mix of crashes, replays and
 * rebalances once every owner has checkpointed; a double-applied or lost event breaks it.
 *
 * Also checks a sample of rows' stored account window features against a brute force over the rows
 * before them: an account has one source partition (the partition key), so its features are those
 * of one ordered pass over that partition's rows of the account, and a row's snapshot must hold the
 * windows after it (domain/entity-features.ts: late rows and rows outside the largest window only
 * read). This is what the outside check (shared/checks/outside-check.sh) verifies from outside.
 */
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { createConnection } from '../../platform/mysql.ts';
import { entityFeatureNames, entityFeaturesBruteForce, type EntityEvent } from '../../domain/entity-features.ts';
import { aggregateBruteForce, type WindowAggregate, type WindowEvent, type WindowSpec } from '../../domain/windows.ts';
import type { EntityKind } from '../../platform/keys.ts';
import { createStateRedis } from '../../platform/redis.ts';
import { readAggregates } from '../../state/aggregates.ts';
import { EntityStore } from '../../state/entity-store.ts';
import { readMarker } from '../../state/marker.ts';
import type { TestNamespace } from './namespace.ts';

export interface StateCheck {
  entities: number;
  /** Human-readable mismatches (empty when the state is right). */
  mismatches: string[];
}

/** The parts of a row the checks read. */
interface Row {
  transactionId: string;
  account: string;
  /** "<topic>/<partition>" */
  source: string;
  offset: bigint;
  late: boolean;
  event: EntityEvent;
}

/** Rows read per query: a million-row table is read in pages, never whole (the fault run's size). */
const PAGE = 20_000;

export async function checkStateAgainstMysql(ns: TestNamespace, opts: { sampleSnapshots?: number } = {}): Promise<StateCheck> {
  const conn = await createConnection(ns.cfg);
  const windows = ns.cfg.state.windows;
  const byEntity = new Map<string, { kind: EntityKind; id: string; events: WindowEvent[] }>();
  // Ids, merchants, countries and sources repeat across rows: one copy each.
  const pool = new Map<string, string>();
  const pooled = (x: string) => {
    const have = pool.get(x);
    if (have !== undefined) return have;
    pool.set(x, x);
    return x;
  };
  const rows: Row[] = [];
  try {
    // Only the base-currency amount of each snapshot (the sampled rows' whole snapshots are read
    // below): a million parsed snapshots do not fit a test process's heap.
    for (let after = 0; ;) {
      const [page] = await conn.query<RowDataPacket[]>(
        `SELECT id, transaction_id, account_id, card_token, merchant_id, device_id, merchant_country, event_time, late,
                JSON_VALUE(features, '$.amount_base_minor') AS amount_base_minor, src_topic, src_partition, src_offset
           FROM transactions WHERE id > ? ORDER BY id LIMIT ?`,
        [after, PAGE],
      );
      for (const r of page) {
        const late = Boolean(r.late);
        const amount = r.amount_base_minor === null ? null : Number(r.amount_base_minor);
        const row: Row = {
          transactionId: r.transaction_id as string,
          account: pooled(r.account_id as string),
          source: pooled(`${r.src_topic as string}/${Number(r.src_partition)}`),
          offset: BigInt(String(r.src_offset)),
          late,
          event: {
            eventTime: (r.event_time as Date).getTime(),
            amountMinor: amount,
            merchantId: pooled(r.merchant_id as string),
            country: pooled(r.merchant_country as string),
            lat: null,
            lon: null,
            late,
          },
        };
        rows.push(row);
        if (late) continue;
        const ev: WindowEvent = amount === null ? { ...row.event, amountMinor: 0 } : (row.event as WindowEvent);
        const ids: Array<[EntityKind, string | null]> = [
          ['account', row.account],
          ['card', r.card_token as string],
          ['merchant', row.event.merchantId],
          ['device', r.device_id as string | null],
        ];
        for (const [kind, id] of ids) {
          if (id === null) continue;
          const k = `${kind}/${id}`;
          const e = byEntity.get(k);
          if (e) e.events.push(ev);
          else byEntity.set(k, { kind, id: pooled(id), events: [ev] });
        }
      }
      if (page.length < PAGE) break;
      after = Number(page[page.length - 1]?.id);
    }
    pool.clear();
    const redis = createStateRedis(ns.cfg);
    await redis.connect();
    const mismatches: string[] = [];
    try {
      const entities = [...byEntity.values()];
      const marker = await readMarker(redis, ns.cfg.keyPrefix);
      if (marker.status !== 'intact') mismatches.push(`state marker ${marker.status}`);
      const store = new EntityStore(redis, {
        prefix: ns.cfg.keyPrefix,
        stateTtlMs: ns.cfg.state.ttlSeconds * 1000,
        generation: marker.generation ?? 0,
      });
      // In pages too: one read of every entity's state at once holds all their blobs.
      for (let from = 0; from < entities.length; from += PAGE) {
        const part = entities.slice(from, from + PAGE);
        const live = await readAggregates(store, windows, part);
        part.forEach((e, i) => {
          let head = Number.NEGATIVE_INFINITY;
          for (const x of e.events) if (x.eventTime > head) head = x.eventTime;
          const agg = live[i] ?? null;
          if (agg?.head !== head) mismatches.push(`${e.kind} ${e.id}: head ${agg?.head ?? null} vs mysql ${head}`);
          windows.forEach((w, j) => {
            const got: WindowAggregate = agg?.windows[j] ?? { count: 0, sumMinor: 0, distinctMerchants: 0, distinctCountries: 0 };
            const want = aggregateBruteForce(e.events, head, w);
            if (JSON.stringify(got) !== JSON.stringify(want))
              mismatches.push(`${e.kind} ${e.id} ${w.name}: redis ${JSON.stringify(got)} vs mysql ${JSON.stringify(want)}`);
          });
        });
      }
      mismatches.push(...(await accountSnapshotMismatches(conn, rows, windows, opts.sampleSnapshots ?? 200)));
      return { entities: entities.length, mismatches };
    } finally {
      redis.disconnect();
    }
  } finally {
    await conn.end();
  }
}

/**
 * Each sampled row's stored account windows against the brute force over its account's rows in the
 * same source partition at offsets up to its own (in offset order, late flags as stored). Only the
 * windows: the amount statistics are not windowed, so after a rebuild (which replays the longest
 * window's rows) or a TTL expiry they legitimately cover fewer rows than MySQL holds.
 */
async function accountSnapshotMismatches(
  conn: Connection,
  rows: readonly Row[],
  windows: readonly WindowSpec[],
  sample: number,
): Promise<string[]> {
  if (sample <= 0 || rows.length === 0) return [];
  // Spread over the whole table, not its first rows only.
  const step = Math.max(1, Math.floor(rows.length / sample));
  const sampled = rows.filter((_, i) => i % step === 0).slice(0, sample);
  const history = new Map<string, Row[]>();
  for (const r of rows) {
    const k = `${r.account}\u0000${r.source}`;
    const h = history.get(k);
    if (h) h.push(r);
    else history.set(k, [r]);
  }
  const names = entityFeatureNames('account', windows).slice(0, windows.length * 4);
  const features = new Map<Row, number[]>();
  for (const r of sampled) {
    if (features.has(r)) continue;
    const h = (history.get(`${r.account}\u0000${r.source}`) as Row[]).sort((a, b) =>
      a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0,
    );
    // One brute-force pass per account and partition gives every row's features after it.
    entityFeaturesBruteForce(
      h.map((x) => x.event),
      windows,
    ).forEach((f, j) =>
      features.set(
        h[j] as Row,
        f.windows.flatMap((w) => [w.count, w.sumMinor, w.distinctMerchants, w.distinctCountries]),
      ),
    );
  }
  // The sampled rows' stored snapshots (MariaDB's JSON arrives as text).
  const [storedRows] = await conn.query<RowDataPacket[]>(
    'SELECT transaction_id, features FROM transactions WHERE transaction_id IN (?)',
    [sampled.map((r) => r.transactionId)],
  );
  const snapshots = new Map<string, Record<string, number | null> | null>();
  for (const x of storedRows)
    snapshots.set(
      x.transaction_id as string,
      (typeof x.features === 'string' ? JSON.parse(x.features) : x.features) as Record<string, number | null> | null,
    );
  const out: string[] = [];
  for (const r of sampled) {
    const snapshot = snapshots.get(r.transactionId) ?? null;
    if (snapshot === null) {
      out.push(`snapshot of ${r.transactionId}: none stored`);
      continue;
    }
    const stored = names.map((n) => snapshot[n] ?? null);
    const want = features.get(r) as number[];
    if (JSON.stringify(stored) !== JSON.stringify(want))
      out.push(`account windows of ${r.transactionId}: row ${JSON.stringify(stored)} vs mysql ${JSON.stringify(want)}`);
  }
  return out;
}

/** How many rows carry a feature snapshot, a base-currency amount, an account age and a BIN country. */
export async function featureCoverage(ns: TestNamespace) {
  const conn = await createConnection(ns.cfg);
  try {
    const [[r]] = await conn.query<RowDataPacket[]>(
      `SELECT COUNT(*) AS n_rows, COUNT(features) AS n_features,
              SUM(JSON_VALUE(features, '$.amount_base_minor') IS NOT NULL) AS n_base,
              SUM(JSON_VALUE(features, '$.account_age_days') IS NOT NULL) AS n_age,
              SUM(JSON_VALUE(features, '$.bin_country_mismatch') IS NOT NULL) AS n_bin,
              SUM(JSON_EXTRACT(features, '$.bin_country_mismatch') = true) AS n_bin_mismatch
       FROM transactions`,
    );
    return {
      rows: Number(r?.n_rows),
      withFeatures: Number(r?.n_features),
      withBaseAmount: Number(r?.n_base),
      withAccountAge: Number(r?.n_age),
      withBinCountry: Number(r?.n_bin),
      binMismatches: Number(r?.n_bin_mismatch),
    };
  } finally {
    await conn.end();
  }
}
