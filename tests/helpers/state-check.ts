/**
 * Checks the Redis window state of a namespace against a recomputation from MySQL's rows: for every
 * account, card, merchant and device, the window counts, sums and distinct counts at the entity's
 * head must equal a brute-force aggregate of its non-late transactions. Order-independent, so it
 * holds after any mix of crashes, replays and rebalances; a double-applied or lost event breaks it.
 * Also checks each row's account features equal the snapshot the account script stored.
 */
import type { RowDataPacket } from 'mysql2/promise';
import { createConnection } from '../../platform/mysql.ts';
import { entityFeatureNames } from '../../domain/entity-features.ts';
import { aggregateBruteForce, type WindowAggregate, type WindowEvent } from '../../domain/windows.ts';
import type { EntityKind } from '../../platform/keys.ts';
import { createStateRedis } from '../../platform/redis.ts';
import { readMarker } from '../../state/marker.ts';
import { WindowState } from '../../processors/ingest/state-store.ts';
import type { TestNamespace } from './namespace.ts';

export interface StateCheck {
  entities: number;
  /** Human-readable mismatches (empty when the state is right). */
  mismatches: string[];
}

export async function checkStateAgainstMysql(ns: TestNamespace, opts: { sampleSnapshots?: number } = {}): Promise<StateCheck> {
  const conn = await createConnection(ns.cfg);
  const [rows] = await conn.query<RowDataPacket[]>(
    'SELECT transaction_id, account_id, card_token, merchant_id, device_id, merchant_country, event_time, late, features FROM transactions',
  );
  await conn.end();
  const windows = ns.cfg.state.windows;
  const byEntity = new Map<string, { kind: EntityKind; id: string; events: WindowEvent[] }>();
  // mysql2 returns MariaDB's JSON (a LONGTEXT) as a string: parse each row's snapshot once.
  const snapshots = rows.map(
    (r) => (typeof r.features === 'string' ? JSON.parse(r.features) : r.features) as Record<string, number | null>,
  );
  rows.forEach((r, i) => {
    if (r.late) return;
    const f = snapshots[i] as Record<string, number | null>;
    const ev: WindowEvent = {
      eventTime: (r.event_time as Date).getTime(),
      amountMinor: f.amount_base_minor ?? 0,
      merchantId: r.merchant_id as string,
      country: r.merchant_country as string,
    };
    const ids: Array<[EntityKind, string | null]> = [
      ['account', r.account_id as string],
      ['card', r.card_token as string],
      ['merchant', r.merchant_id as string],
      ['device', r.device_id as string | null],
    ];
    for (const [kind, id] of ids) {
      if (id === null) continue;
      const k = `${kind}/${id}`;
      const e = byEntity.get(k) ?? { kind, id, events: [] };
      e.events.push(ev);
      byEntity.set(k, e);
    }
  });
  const redis = createStateRedis(ns.cfg);
  await redis.connect();
  const mismatches: string[] = [];
  try {
    const entities = [...byEntity.values()];
    const marker = await readMarker(redis, ns.cfg.keyPrefix);
    if (marker.status !== 'intact') mismatches.push(`state marker ${marker.status}`);
    const state = new WindowState(redis, {
      prefix: ns.cfg.keyPrefix,
      windows,
      dedupTtlSeconds: 1,
      stateTtlSeconds: 1,
      generation: marker.generation ?? 0,
    });
    const live = await state.read(entities);
    entities.forEach((e, i) => {
      const head = Math.max(...e.events.map((x) => x.eventTime));
      const agg = live[i];
      if (agg?.head !== head) mismatches.push(`${e.kind} ${e.id}: head ${agg?.head ?? null} vs mysql ${head}`);
      windows.forEach((w, j) => {
        const got: WindowAggregate = agg?.windows[j] ?? { count: 0, sumMinor: 0, distinctMerchants: 0, distinctCountries: 0 };
        const want = aggregateBruteForce(e.events, head, w);
        if (JSON.stringify(got) !== JSON.stringify(want))
          mismatches.push(`${e.kind} ${e.id} ${w.name}: redis ${JSON.stringify(got)} vs mysql ${JSON.stringify(want)}`);
      });
    });
    // The snapshot in MySQL is the one the account script stored (what a replay would get back).
    const sample = rows.slice(0, opts.sampleSnapshots ?? 200);
    const names = entityFeatureNames('account', windows);
    const stored = await Promise.all(sample.map((r) => state.storedRecord(r.account_id as string, r.transaction_id as string)));
    sample.forEach((r, i) => {
      const f = snapshots[i] as Record<string, number | null>;
      const s = stored[i]?.features ?? null;
      const fromRow = names.map((n) => f[n]);
      if (s === null || JSON.stringify(s) !== JSON.stringify(fromRow))
        mismatches.push(
          `snapshot of ${r.transaction_id as string}: row ${JSON.stringify(fromRow)} vs redis ${JSON.stringify(s)}`,
        );
    });
    return { entities: entities.length, mismatches };
  } finally {
    redis.disconnect();
  }
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
