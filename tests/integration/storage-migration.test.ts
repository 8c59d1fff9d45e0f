// Migration 013 (one row per transaction) against the real MariaDB, on data stored the old way: a
// database at migration 012 with transactions, their JSON snapshots (two lists of names), decisions
// and an alert, migrated forward. Old reads must keep working: `SELECT transaction_id, features FROM
// transactions` returns the same named objects, the decisions view the same decisions, alert_rule_hits
// its rows; txmon's decoder reads the migrated vectors; new alerts fill alert_rule_hits from their own hits.
import { randomBytes } from 'node:crypto';
import type mysql from 'mysql2/promise';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type TxmonConfig } from '../../config/config.ts';
import { snapshotFeatureNames } from '../../domain/snapshot.ts';
import { createConnection, migrate } from '../../platform/mysql.ts';
import { FeatureDecoder, featureLayoutVersion, registerFeatureLayout } from '../../sinks/feature-vector.ts';

const id = `m${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
const base = loadConfig(process.env);
const cfg: TxmonConfig = loadConfig({ ...process.env, TXMON_MYSQL_URL: `${base.mysql.serverUrl}/txmon_${id}` });

const SNAPSHOT_A = {
  amount_base_minor: 1999,
  account_risk_tier: 'LOW',
  home_country_mismatch: true,
  account_count_1h: 3,
  card_sum_24h: 123456,
  account_amount_mean: 0.1 + 0.2,
  account_travel_km: null,
  tiny: -1.5e-7,
};
const SNAPSHOT_B = { amount_base_minor: 5, account_count_1h: 1, card_sum_24h: 7 };
const HITS = [
  { ruleId: 'r-velocity', ruleVersion: 2, severity: 'HIGH', action: 'REVIEW', detail: "3 > 2 it's fast", snoozed: false },
];
const EXPLANATION = { summary: 'REVIEW: rules: r-velocity (HIGH): 3 > 2', model: null };
const ALLOW_EXPLANATION = { summary: 'ALLOW: no rule hit, no model', model: null };

let conn: mysql.Connection;
const parse = (v: unknown): unknown => (typeof v === 'string' ? JSON.parse(v) : v);

function txRow(txId: string, features: object | null): unknown[] {
  return [
    txId,
    `idem-${txId}`,
    'AUTHORIZATION',
    'acc-1',
    'tok',
    'm-1',
    '5411',
    'GB',
    1999,
    'GBP',
    new Date('2026-01-01T10:00:00Z'),
    'ECOM',
    txId,
    'in',
    0,
    1,
    features === null ? null : JSON.stringify(features),
  ];
}

beforeAll(async () => {
  await migrate(cfg, () => {}, { to: '012' });
  conn = await createConnection(cfg);
  await conn.query(
    `INSERT INTO transactions (transaction_id, idempotency_key, type, account_id, card_token, merchant_id, mcc, merchant_country,
       amount_minor, currency, event_time, channel, reference, src_topic, src_partition, src_offset, features) VALUES ?`,
    [[txRow('tx-a', SNAPSHOT_A), txRow('tx-b', SNAPSHOT_B), txRow('tx-c', SNAPSHOT_A), txRow('tx-old', null)]],
  );
  const decided = new Date('2026-01-01T10:00:01.250Z');
  await conn.query(
    `INSERT INTO decisions (transaction_id, account_id, decision, risk_score, model_version, model_score, ruleset_version, rule_hits,
       explanation, alert_id, event_time, decided_at) VALUES ?`,
    [
      [
        [
          'tx-a',
          'acc-1',
          'REVIEW',
          0.75,
          'if-1',
          0.61,
          'rs-1',
          JSON.stringify(HITS),
          JSON.stringify(EXPLANATION),
          'alert-a',
          new Date('2026-01-01T10:00:00Z'),
          decided,
        ],
        [
          'tx-b',
          'acc-1',
          'ALLOW',
          0.1,
          null,
          null,
          'rs-1',
          '[]',
          JSON.stringify(ALLOW_EXPLANATION),
          null,
          new Date('2026-01-01T10:00:00Z'),
          decided,
        ],
      ],
    ],
  );
  await conn.query(
    "INSERT INTO alerts (alert_id, transaction_id, account_id, decision, risk_score, summary, event_time, created_at) VALUES ('alert-a', 'tx-a', 'acc-1', 'REVIEW', 0.75, 's', ?, ?)",
    [new Date('2026-01-01T10:00:00Z'), decided],
  );
  await migrate(cfg);
});

afterAll(async () => {
  await conn?.end();
  const admin = await createConnection(cfg, { database: false });
  await admin.query(`DROP DATABASE IF EXISTS \`${cfg.mysql.database}\``);
  await admin.end();
});

describe('migration 013 on data stored before it', () => {
  it('`SELECT transaction_id, features FROM transactions` returns the same named objects, in the same key order', async () => {
    const [rows] = await conn.query<RowDataPacket[]>('SELECT transaction_id, features FROM transactions ORDER BY transaction_id');
    const byId = Object.fromEntries(rows.map((r) => [r.transaction_id as string, parse(r.features)]));
    expect(byId).toEqual({ 'tx-a': SNAPSHOT_A, 'tx-b': SNAPSHOT_B, 'tx-c': SNAPSHOT_A, 'tx-old': null });
    expect(Object.keys(byId['tx-a'] as object)).toEqual(Object.keys(SNAPSHOT_A));
    const [[k]] = await conn.query<RowDataPacket[]>(
      "SELECT JSON_VALUE(features, '$.account_count_1h') AS c, JSON_VALUE(features, '$.card_sum_24h') AS s FROM transactions WHERE transaction_id = 'tx-a'",
    );
    expect([Number(k?.c), Number(k?.s)]).toEqual([3, 123456]);
  });

  it('stores each list of names once, as a layout, and the values as a vector txmon decodes', async () => {
    const [layouts] = await conn.query<RowDataPacket[]>('SELECT version, names FROM feature_layouts ORDER BY version');
    const lists = layouts.map((l) => parse(l.names));
    expect(lists).toContainEqual(Object.keys(SNAPSHOT_A));
    expect(lists).toContainEqual(Object.keys(SNAPSHOT_B));
    expect(lists).toContainEqual(snapshotFeatureNames(cfg.state.windows)); // registered by migrate for the configured windows
    expect(layouts).toHaveLength(3);
    const [rows] = await conn.query<RowDataPacket[]>(
      'SELECT transaction_id, feature_layout, feature_values FROM transactions ORDER BY transaction_id',
    );
    const decoded = await new FeatureDecoder(conn).decodeRows(rows);
    expect(decoded.map((d) => d?.object() ?? null)).toEqual([SNAPSHOT_A, SNAPSHOT_B, SNAPSHOT_A, null]);
    expect(decoded[0]?.layout).toBe(decoded[2]?.layout);
  });

  it('keeps every decision readable through the decisions view, with the alert’s rule hits and explanation', async () => {
    const [rows] = await conn.query<RowDataPacket[]>('SELECT * FROM decisions ORDER BY transaction_id');
    expect(rows.map((r) => r.transaction_id)).toEqual(['tx-a', 'tx-b']);
    const [a, b] = rows as [RowDataPacket, RowDataPacket];
    expect({ ...a, rule_hits: parse(a.rule_hits), explanation: parse(a.explanation) }).toEqual({
      transaction_id: 'tx-a',
      account_id: 'acc-1',
      decision: 'REVIEW',
      risk_score: 0.75,
      model_version: 'if-1',
      model_score: 0.61,
      shadow_model_version: null,
      shadow_score: null,
      ruleset_version: 'rs-1',
      rule_hits: HITS,
      explanation: EXPLANATION,
      alert_id: 'alert-a',
      event_time: new Date('2026-01-01T10:00:00Z'),
      decided_at: new Date('2026-01-01T10:00:01.250Z'),
    });
    // An ALLOW keeps no rule hits or explanation: the view says so.
    expect(parse(b.rule_hits)).toEqual([]);
    expect(parse(b.explanation)).toEqual({ summary: 'ALLOW: explanations are kept for alerts only', model: null });
    const [audit] = await conn.query<RowDataPacket[]>(
      'SELECT transaction_id, feature_snapshot FROM decision_audit ORDER BY transaction_id',
    );
    expect(audit.map((r) => parse(r.feature_snapshot))).toEqual([SNAPSHOT_A, SNAPSHOT_B]);
  });

  it('keeps alert_rule_hits, and fills it for a new alert from the alert’s own rule hits', async () => {
    const [old] = await conn.query<RowDataPacket[]>('SELECT alert_id, rule_id, severity FROM alert_rule_hits');
    expect(old).toEqual([{ alert_id: 'alert-a', rule_id: 'r-velocity', severity: 'HIGH' }]);
    await conn.query(
      `INSERT INTO alerts (alert_id, transaction_id, account_id, decision, risk_score, summary, rule_hits, explanation, event_time, created_at)
       VALUES ('alert-c', 'tx-c', 'acc-1', 'BLOCK', 0.9, 's', ?, '{}', NOW(3), NOW(3))`,
      [JSON.stringify([{ ...HITS[0], ruleId: 'r-new', severity: 'CRITICAL' }])],
    );
    const [hits] = await conn.query<RowDataPacket[]>("SELECT rule_id, severity FROM alert_rule_hits WHERE alert_id = 'alert-c'");
    expect(hits).toEqual([{ rule_id: 'r-new', severity: 'CRITICAL' }]);
  });

  it('leaves transactions only the indexes a reader uses (listed in the migration)', async () => {
    const [rows] = await conn.query<RowDataPacket[]>(
      'SELECT DISTINCT INDEX_NAME AS i FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = ?',
      ['transactions'],
    );
    expect(rows.map((r) => r.i).sort()).toEqual([
      'PRIMARY',
      'ix_transactions_event_time',
      'ix_transactions_model_decided',
      'uq_transactions_transaction_id',
    ]);
  });

  it('registers a layout idempotently, and a new one extends `features` without touching stored rows', async () => {
    const names = ['only_one', 'and_two'];
    expect(await featureLayoutVersion(conn, names)).toBeNull();
    const v = await registerFeatureLayout(conn, names);
    expect(await registerFeatureLayout(conn, names)).toBe(v);
    const [[count]] = await conn.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM feature_layouts');
    expect(Number(count?.n)).toBe(4);
    await conn.query(
      `INSERT INTO transactions (transaction_id, idempotency_key, type, account_id, card_token, merchant_id, mcc, merchant_country,
         amount_minor, currency, event_time, channel, reference, src_topic, src_partition, src_offset, feature_layout, feature_values)
       VALUES ('tx-new', 'idem-new', 'AUTHORIZATION', 'acc-1', 'tok', 'm-1', '5411', 'GB', 1, 'GBP', NOW(3), 'ECOM', 'tx-new', 'in', 0, 9, ?, '[1,"HIGH"]')`,
      [v],
    );
    const [rows] = await conn.query<RowDataPacket[]>(
      "SELECT transaction_id, features FROM transactions WHERE transaction_id IN ('tx-a', 'tx-new') ORDER BY transaction_id",
    );
    expect(rows.map((r) => parse(r.features))).toEqual([SNAPSHOT_A, { only_one: 1, and_two: 'HIGH' }]);
  });
});
