/**
 * MariaDB CPU per transaction of the sink's writes, before and after one row per transaction
 * (migration 013), and the two encodings of the feature vector considered for it. Not a test: it
 * measures and prints (docs/storage.md has the figures and the reasoning).
 *
 *   node --import tsx bench/mysql-rows.ts [rows per variant, default 50000] [rounds, default 2]
 *
 * Rows of the simulator's shape (its transactions; the snapshot's values synthetic but of the real
 * layout, types and magnitudes; ~3 % alerts with a rule hit), written in batches of 2,500, each in
 * one MySQL transaction on one connection, into databases of its own (dropped at the end):
 *   before  migration 012: `transactions` with the 2.2 KB JSON snapshot, `decisions`, `alerts` (the old sink's statements)
 *   json    migration 013: one row with the vector as a JSON array, through sinks/transactions.sink.ts
 *   binary  migration 013's row with the vector as float64s in the same column (what MariaDB could not decode)
 * CPU is read from /proc: the whole mariadbd process (background flushing included, but so is
 * whatever else the machine's MariaDB does meanwhile) and the connection's own thread (its
 * information_schema.processlist TID; the statement's work alone). Also: the ingest-side CPU to build
 * each encoding, reads of 10,000 rows through the VIRTUAL `features` column and through the decoder,
 * and the batched look-up (lookupStored) per id.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { loadConfig, type TxmonConfig } from '../config/config.ts';
import type { DecisionRecord } from '../detection/decision-record.ts';
import { alertId } from '../detection/decide.ts';
import { numericValue } from '../detection/features.ts';
import type { StaticFeatures } from '../domain/enrich.ts';
import type { EntityFeatures } from '../domain/entity-features.ts';
import {
  SNAPSHOT_ENTITIES,
  STATIC_FEATURE_NAMES,
  SnapshotWriter,
  snapshotFeatureNames,
  snapshotObject,
  type EntityFeatureSet,
} from '../domain/snapshot.ts';
import type { Transaction } from '../domain/transaction.ts';
import { Rng } from '../domain/rng.ts';
import { createConnection, createPool, migrate, type Pool } from '../platform/mysql.ts';
import { generateEvents } from '../simulator/generate.ts';
import { DEFAULT_SIM_OPTIONS } from '../simulator/types.ts';
import { FeatureDecoder, requireFeatureLayout } from '../sinks/feature-vector.ts';
import { lookupStored } from '../sinks/lookup-stored.ts';
import { jsonLiteral } from '../sinks/sql-literal.ts';
import { storeAlerts } from '../sinks/decisions.sink.ts';
import { TRANSACTION_COLUMNS, transactionRow, writeBatch, type PositionedTransaction } from '../sinks/transactions.sink.ts';

const ROWS = Number(process.argv[2] ?? 50_000);
const ROUNDS = Number(process.argv[3] ?? 2);
const BATCH = 2_500;
const CLK_TCK = 100;

interface Item {
  tx: Transaction;
  st: StaticFeatures;
  features: EntityFeatureSet;
  decision: DecisionRecord;
}

/** One entity's features, of the magnitudes the windows give (counts small, sums in minor units, means fractional). */
function entity(rng: Rng, windows: number, absent: number): EntityFeatures | null {
  if (rng.next() < absent) return null;
  let count = 0;
  let sum = 0;
  const ws = Array.from({ length: windows }, (_, i) => {
    count += rng.int(0, 3 * (i + 1));
    sum += rng.int(0, 60_000) * count;
    return { count, sumMinor: sum, distinctMerchants: Math.min(count, rng.int(1, 6)), distinctCountries: rng.int(1, 3) };
  });
  const n = rng.int(1, 400);
  return {
    windows: ws,
    amountN: n,
    amountMean: (rng.int(100, 5_000_000) * 1.0) / n,
    amountStd: Math.sqrt(rng.int(1, 1e9)) / 3,
    sincePrevMs: rng.next() < 0.1 ? null : rng.int(1, 86_400_000),
    travelKm: rng.next() < 0.3 ? null : rng.next() * 900,
    travelKmh: rng.next() < 0.3 ? null : rng.next() * 400,
  };
}

function items(cfg: TxmonConfig, count: number, tag: string): Item[] {
  const rng = new Rng(7);
  const out: Item[] = [];
  const tiers = ['LOW', 'MEDIUM', 'HIGH'] as const;
  for (const e of generateEvents({ ...DEFAULT_SIM_OPTIONS, count: Math.ceil(count * 1.1), malformedRate: 0, duplicateRate: 0 })) {
    if (e.kind !== 'valid') continue;
    const tx = { ...e.tx, transaction_id: `${tag}-${e.tx.transaction_id}` };
    const w = cfg.state.windows.length;
    const st: StaticFeatures = {
      amount_base_minor: tx.amount_minor,
      account_age_days: rng.int(0, 4_000),
      account_risk_tier: tiers[rng.int(0, 2)] ?? 'LOW',
      home_country_mismatch: rng.next() < 0.1,
      ip_country_mismatch: tx.ip_country === null ? null : rng.next() < 0.1,
      merchant_risk_tier: tiers[rng.int(0, 2)] ?? 'LOW',
      bin_country_mismatch: rng.next() < 0.05,
      hour_of_day: new Date(tx.event_time).getUTCHours(),
    };
    const features = {
      account: entity(rng, w, 0),
      card: entity(rng, w, 0.02),
      merchant: entity(rng, w, 0),
      device: entity(rng, w, 0.2),
    };
    const alerting = rng.next() < 0.03;
    const kind = alerting ? 'REVIEW' : 'ALLOW';
    out.push({
      tx,
      st,
      features,
      decision: {
        transactionId: tx.transaction_id,
        accountId: tx.account_id,
        decision: kind,
        riskScore: alerting ? 0.7 + rng.next() * 0.3 : rng.next() * 0.4,
        modelVersion: 'if-bench',
        modelScore: rng.next(),
        shadowModelVersion: null,
        shadowScore: null,
        rulesetVersion: 'rules-bench-1',
        shadowRules: null,
        rollout: null,
        ruleHits: alerting
          ? [
              {
                ruleId: 'velocity-card-1h',
                ruleVersion: '3',
                severity: 'high',
                action: 'REVIEW',
                detail: 'card_count_1h 9 > 6',
                snoozed: false,
              },
            ]
          : [],
        explanation: {
          summary: alerting
            ? `${kind}: rules: velocity-card-1h (high): card_count_1h 9 > 6 | model if-bench: score 0.61 >= threshold 0.6 (above 99.1% of training)`
            : `${kind}: model if-bench: score 0.41 < threshold 0.6 (above 55.2% of training)`,
          model: null,
        },
        alertId: alerting ? alertId(tx.transaction_id, 'if-bench', 'rules-bench-1') : null,
        eventTime: tx.event_time,
        decidedAt: Date.now(),
        amountMinor: tx.amount_minor,
        currency: tx.currency,
      },
    });
    if (out.length === count) break;
  }
  return out;
}

/** utime + stime of a process or one of its threads, in µs. */
function cpuUs(path: string): number {
  const f = readFileSync(path, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return ((Number(f[11]) + Number(f[12])) * 1e6) / CLK_TCK;
}

/** The MariaDB server on this machine (BENCH_MARIADB_PID when there are several). */
function mariadbPid(): number {
  const pid = Number(process.env.BENCH_MARIADB_PID);
  return pid > 0 ? pid : Number(execFileSync('pidof', ['mariadbd'], { encoding: 'utf8' }).trim().split(/\s+/)[0]);
}

interface Cost {
  processUs: number;
  threadUs: number;
  wallMs: number;
}

/** Runs `fn` on a pool of one connection and returns MariaDB's CPU (process, connection thread) and the wall time. */
async function measured(pool: Pool, pid: number, fn: () => Promise<void>): Promise<Cost> {
  const [[me]] = await pool.query<RowDataPacket[]>(
    'SELECT TID AS tid FROM information_schema.processlist WHERE ID = CONNECTION_ID()',
  );
  const threadPath = `/proc/${pid}/task/${Number(me?.tid)}/stat`;
  const p0 = cpuUs(`/proc/${pid}/stat`);
  const t0 = cpuUs(threadPath);
  const w0 = performance.now();
  await fn();
  // Let the background threads (page cleaner, log writer, purge) do the work this caused.
  await new Promise((r) => setTimeout(r, 1_000));
  return { processUs: cpuUs(`/proc/${pid}/stat`) - p0, threadUs: cpuUs(threadPath) - t0, wallMs: performance.now() - w0 - 1_000 };
}

const OLD_COLUMNS =
  'transaction_id, idempotency_key, type, account_id, card_token, card_last4, merchant_id, mcc, merchant_country, amount_minor, currency, event_time, channel, device_id, ip_country, reference, parent_transaction_id, latitude, longitude, late, features, src_topic, src_partition, src_offset';

function baseRow(t: Transaction): unknown[] {
  return [
    t.transaction_id,
    t.idempotency_key,
    t.type,
    t.account_id,
    t.card_token,
    t.card_last4,
    t.merchant_id,
    t.mcc,
    t.merchant_country,
    t.amount_minor,
    t.currency,
    new Date(t.event_time),
    t.channel,
    t.device_id,
    t.ip_country,
    t.reference ?? t.transaction_id,
    t.parent_transaction_id,
    t.latitude,
    t.longitude,
  ];
}

/** The pre-013 sink's three statements per batch (transactions with the JSON object, decisions, alerts). */
async function writeBefore(pool: Pool, batch: Item[], snapshotJson: (i: Item) => string, offset: number): Promise<void> {
  const conn = await pool.getConnection();
  try {
    await conn.beginTransaction();
    const sorted = [...batch].sort((a, b) => (a.tx.transaction_id < b.tx.transaction_id ? -1 : 1));
    await conn.query<ResultSetHeader>({
      sql: `INSERT INTO transactions (${OLD_COLUMNS}) VALUES ? ON DUPLICATE KEY UPDATE id = id`,
      values: [sorted.map((it, j) => [...baseRow(it.tx), false, jsonLiteral(snapshotJson(it)), 'bench', 0, offset + j])],
    });
    await conn.query({
      sql:
        'INSERT INTO decisions (transaction_id, account_id, decision, risk_score, model_version, model_score, shadow_model_version, shadow_score, ' +
        'ruleset_version, rule_hits, explanation, alert_id, event_time, decided_at) VALUES ? ON DUPLICATE KEY UPDATE transaction_id = transaction_id',
      values: [
        sorted.map(({ decision: d }) => [
          d.transactionId,
          d.accountId,
          d.decision,
          d.riskScore,
          d.modelVersion,
          d.modelScore,
          d.shadowModelVersion,
          d.shadowScore,
          d.rulesetVersion,
          d.ruleHits.length === 0 ? '[]' : jsonLiteral(JSON.stringify(d.ruleHits)),
          jsonLiteral(JSON.stringify(d.explanation)),
          d.alertId,
          new Date(d.eventTime),
          new Date(d.decidedAt),
        ]),
      ],
    });
    const alerting = sorted.filter((i) => i.decision.alertId !== null);
    if (alerting.length > 0)
      await conn.query({
        sql:
          'INSERT INTO alerts (alert_id, transaction_id, account_id, decision, risk_score, summary, event_time, created_at) VALUES ? ' +
          'ON DUPLICATE KEY UPDATE alert_id = alert_id',
        values: [
          alerting.map(({ decision: d }) => [
            d.alertId,
            d.transactionId,
            d.accountId,
            d.decision,
            d.riskScore,
            d.explanation.summary,
            new Date(d.eventTime),
            new Date(d.decidedAt),
          ]),
        ],
      });
    await conn.commit();
  } finally {
    conn.release();
  }
}

/** The vector as float64s written straight from the values, in SnapshotWriter's order (what a binary writer would do). */
function binaryWriter(windows: number): (it: Item) => Buffer {
  const per = windows * 4 + 6;
  const size = (STATIC_FEATURE_NAMES.length + 4 * per) * 8;
  return ({ st, features }) => {
    const out = Buffer.allocUnsafe(size);
    let o = 0;
    for (const n of STATIC_FEATURE_NAMES) o = out.writeDoubleLE(numericValue(st[n]), o);
    for (const e of SNAPSHOT_ENTITIES) {
      const f = features[e];
      if (f === null) {
        for (let i = 0; i < per; i++) o = out.writeDoubleLE(NaN, o);
        continue;
      }
      for (const w of f.windows)
        for (const v of [w.count, w.sumMinor, w.distinctMerchants, w.distinctCountries]) o = out.writeDoubleLE(v, o);
      for (const v of [f.amountN, f.amountMean, f.amountStd, f.sincePrevMs, f.travelKm, f.travelKmh])
        o = out.writeDoubleLE(v ?? NaN, o);
    }
    return out;
  };
}

/** The vector as float64s (tiers 0/1/2, booleans 1/0, missing NaN): what a binary encoding would store. */
function binaryVector(names: readonly string[], object: Record<string, unknown>): Buffer {
  const out = Buffer.allocUnsafe(names.length * 8);
  for (let i = 0; i < names.length; i++) out.writeDoubleLE(numericValue(object[names[i] as string]), i * 8);
  return out;
}

async function database(base: TxmonConfig, name: string, to?: string): Promise<{ cfg: TxmonConfig; pool: Pool }> {
  const cfg = loadConfig({ ...process.env, TXMON_MYSQL_URL: `${base.mysql.serverUrl}/${name}` });
  await migrate(cfg, () => {}, to === undefined ? {} : { to });
  return { cfg, pool: createPool(cfg, { connectionLimit: 1 }) };
}

const perRow = (c: Cost, rows: number) =>
  `process ${(c.processUs / rows).toFixed(1)} µs/row, connection thread ${(c.threadUs / rows).toFixed(1)} µs/row, ${Math.round((rows * 1000) / c.wallMs).toLocaleString('en')} rows/s`;

async function main(): Promise<void> {
  const base = loadConfig(process.env);
  const pid = mariadbPid();
  const id = `txmon_benchrows_${randomBytes(3).toString('hex')}`;
  const names = snapshotFeatureNames(base.state.windows);
  const writer = new SnapshotWriter(base.state.windows);
  const dbs = { before: `${id}_before`, json: `${id}_json`, binary: `${id}_binary` };
  const before = await database(base, dbs.before, '012');
  const json = await database(base, dbs.json);
  const binary = await database(base, dbs.binary);
  const layout = await requireFeatureLayout(json.pool, names);
  try {
    // Ingest-side CPU to build each encoding (the JSON object was what the old sink wrote).
    const sample = items(base, 10_000, 'enc');
    const encode = (what: string, f: (i: Item) => unknown) => {
      for (const it of sample) f(it); // warm-up
      const c0 = process.cpuUsage();
      let bytes = 0;
      for (let r = 0; r < 5; r++)
        for (const it of sample) {
          const v = f(it) as string | Buffer;
          bytes += typeof v === 'string' ? Buffer.byteLength(v) : v.length;
        }
      const c = process.cpuUsage(c0);
      const n = sample.length * 5;
      console.log(`encode ${what}: ${((c.user + c.system) / n).toFixed(2)} µs/row of ingest CPU, ${Math.round(bytes / n)} bytes`);
    };
    encode('JSON object (before)', (it) => JSON.stringify(snapshotObject(it.st, it.features, base.state.windows)));
    encode('JSON array of values', (it) => writer.values(it.st, it.features));
    encode('float64 vector', binaryWriter(base.state.windows.length));

    const costs: Record<string, Cost[]> = { before: [], json: [], binary: [] };
    for (let round = 0; round < ROUNDS; round++) {
      const rows = items(base, ROWS, `r${round}`);
      const batches = Array.from({ length: Math.ceil(rows.length / BATCH) }, (_, b) => rows.slice(b * BATCH, (b + 1) * BATCH));
      costs.before?.push(
        await measured(before.pool, pid, async () => {
          for (const [b, batch] of batches.entries())
            await writeBefore(
              before.pool,
              batch,
              (it) => JSON.stringify(snapshotObject(it.st, it.features, base.state.windows)),
              b * BATCH,
            );
        }),
      );
      costs.json?.push(
        await measured(json.pool, pid, async () => {
          for (const [b, batch] of batches.entries()) {
            const fresh: PositionedTransaction[] = batch.map((it, j) => ({
              tx: it.tx,
              position: { topic: 'bench', partition: 0, offset: String(b * BATCH + j) },
              late: false,
              featureLayout: layout,
              featureValues: writer.values(it.st, it.features),
            }));
            await writeBatch(json.pool, { fresh, replayed: [], duplicates: [], decisions: batch.map((i) => i.decision) });
          }
        }),
      );
      costs.binary?.push(
        await measured(binary.pool, pid, async () => {
          // The same row and statement with float64s in feature_values (sent as a hex literal, as mysql2
          // sends a Buffer). MariaDB cannot decode them: `features` would need a second, stored column.
          const at = TRANSACTION_COLUMNS.indexOf('feature_values');
          for (const [b, batch] of batches.entries()) {
            const conn = await binary.pool.getConnection();
            try {
              await conn.beginTransaction();
              const sorted = [...batch].sort((x, y) => (x.tx.transaction_id < y.tx.transaction_id ? -1 : 1));
              const values = sorted.map((it, j) => {
                const r = transactionRow(
                  {
                    tx: it.tx,
                    position: { topic: 'bench', partition: 0, offset: String(b * BATCH + j) },
                    late: false,
                    featureLayout: layout,
                    featureValues: '',
                  },
                  it.decision,
                );
                r[at] = binaryVector(names, snapshotObject(it.st, it.features, base.state.windows));
                return r;
              });
              await conn.query({
                sql: `INSERT INTO transactions (${TRANSACTION_COLUMNS.join(', ')}) VALUES ? ON DUPLICATE KEY UPDATE id = id`,
                values: [values],
              });
              await storeAlerts(
                conn,
                sorted.map((i) => i.decision),
              );
              await conn.commit();
            } finally {
              conn.release();
            }
          }
        }),
      );
      for (const k of ['before', 'json', 'binary'] as const) {
        const c = costs[k]?.[round] as Cost;
        console.log(`round ${round + 1} ${k.padEnd(6)}: ${perRow(c, rows.length)}`);
      }
    }
    for (const k of ['before', 'json', 'binary'] as const) {
      const list = costs[k] as Cost[];
      const sum = list.reduce(
        (a, c) => ({ processUs: a.processUs + c.processUs, threadUs: a.threadUs + c.threadUs, wallMs: a.wallMs + c.wallMs }),
        {
          processUs: 0,
          threadUs: 0,
          wallMs: 0,
        },
      );
      console.log(`write ${k.padEnd(6)} (${ROUNDS} × ${ROWS.toLocaleString('en')} rows): ${perRow(sum, ROWS * ROUNDS)}`);
    }
    for (const [k, db] of Object.entries(dbs)) {
      const [[t]] = await before.pool.query<RowDataPacket[]>(
        `SELECT AVG(LENGTH(${k === 'before' ? 'features' : 'feature_values'})) AS f FROM \`${db}\`.transactions`,
      );
      await before.pool.query(`ANALYZE TABLE \`${db}\`.transactions`);
      const [[s]] = await before.pool.query<RowDataPacket[]>(
        'SELECT data_length AS d, index_length AS i, table_rows AS n FROM information_schema.tables WHERE table_schema = ? AND table_name = ?',
        [db, 'transactions'],
      );
      const per = (v: unknown) => Math.round(Number(v) / Math.max(1, Number(s?.n)));
      console.log(
        `table ${k}: snapshot ${Math.round(Number(t?.f))} bytes/row; InnoDB ~${per(s?.d)} bytes/row data, ~${per(s?.i)} bytes/row secondary indexes`,
      );
    }

    // Reads of 10,000 rows: the VIRTUAL named object (outside readers), the stored JSON (before), the vector + decoder (txmon).
    const read = async (what: string, pool: Pool, sql: string, after?: (rows: RowDataPacket[]) => Promise<void>) => {
      const c = await measured(pool, pid, async () => {
        const [rows] = await pool.query<RowDataPacket[]>(sql);
        if (after) await after(rows);
      });
      console.log(
        `read 10,000 rows, ${what}: ${c.wallMs.toFixed(0)} ms wall, MariaDB connection thread ${(c.threadUs / 1000).toFixed(0)} ms`,
      );
    };
    await read('stored JSON `features` (before)', before.pool, 'SELECT transaction_id, features FROM transactions LIMIT 10000');
    await read('VIRTUAL `features` (after)', json.pool, 'SELECT transaction_id, features FROM transactions LIMIT 10000');
    await read(
      'feature_values + FeatureDecoder (after)',
      json.pool,
      'SELECT transaction_id, feature_layout, feature_values FROM transactions LIMIT 10000',
      async (rows) => {
        const decoded = await new FeatureDecoder(json.pool).decodeRows(rows);
        for (const d of decoded) d?.object();
      },
    );

    // The batched look-up: 2,500 stored ids per call, as a batch's dedup would ask.
    const [idRows] = await json.pool.query<RowDataPacket[]>(
      'SELECT transaction_id FROM transactions ORDER BY RAND() LIMIT 25000',
    );
    const ids = idRows.map((r) => String(r.transaction_id));
    const look = await measured(json.pool, pid, async () => {
      for (let i = 0; i < ids.length; i += BATCH) await lookupStored(json.pool, ids.slice(i, i + BATCH));
    });
    console.log(`lookupStored, 2,500 stored ids per call: ${perRow(look, ids.length).replace(/row/g, 'id')}`);
    // The usual case of a live batch: none of its ids stored yet.
    const fresh = ids.map((x) => `new-${x}`);
    const miss = await measured(json.pool, pid, async () => {
      for (let i = 0; i < fresh.length; i += BATCH) await lookupStored(json.pool, fresh.slice(i, i + BATCH));
    });
    console.log(`lookupStored, 2,500 new ids per call: ${perRow(miss, fresh.length).replace(/row/g, 'id')}`);
  } finally {
    for (const db of [before, json, binary]) await db.pool.end();
    const admin = await createConnection(base, { database: false });
    for (const name of Object.values(dbs)) await admin.query(`DROP DATABASE IF EXISTS \`${name}\``);
    await admin.end();
  }
}

await main();
