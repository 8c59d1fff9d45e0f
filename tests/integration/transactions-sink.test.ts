// The MySQL sink against the real MariaDB: one row per transaction (migration 013) with its feature
// vector and decision; `features` returns the named object; a replay keeps the stored row and
// decision (the stored one wins), a delivery from another position is a duplicate; lookupStored reads
// what a replay needs back in one statement.
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DecisionRecord } from '../../detection/decision-record.ts';
import { snapshotFeatureNames } from '../../domain/snapshot.ts';
import { sampleTransaction } from '../../domain/transaction.fixture.ts';
import { createPool, type Pool } from '../../platform/mysql.ts';
import { requireFeatureLayout } from '../../sinks/feature-vector.ts';
import { lookupStored } from '../../sinks/lookup-stored.ts';
import { DependencyError, StateLostError } from '../../platform/errors.ts';
import { writeBatch, type PositionedTransaction } from '../../sinks/transactions.sink.ts';
import { createNamespace, type TestNamespace } from '../helpers/namespace.ts';

let ns: TestNamespace;
let pool: Pool;
/** The ingest's kind of pool: a batch's statements go as one query (writeBatch `oneTrip`). */
let multi: Pool;
let layout: number;
let names: string[];
const parse = (v: unknown): unknown => (typeof v === 'string' ? JSON.parse(v) : v);

beforeAll(async () => {
  ns = await createNamespace();
  pool = createPool(ns.cfg);
  multi = createPool(ns.cfg, { multipleStatements: true });
  names = snapshotFeatureNames(ns.cfg.state.windows);
  layout = await requireFeatureLayout(pool, names);
});

afterAll(async () => {
  await multi.end();
  await pool.end();
  await ns.cleanup();
});

/** A vector of the configured layout: every value null but the first few. */
function vector(...head: unknown[]): string {
  return JSON.stringify(names.map((_, i) => (i < head.length ? head[i] : null)));
}

function positioned(id: string, offset: number, featureValues: string, late = false): PositionedTransaction {
  return {
    tx: sampleTransaction({ transaction_id: id, idempotency_key: `idem-${id}` }),
    position: { topic: 'in', partition: 0, offset: String(offset) },
    late,
    featureLayout: layout,
    featureValues,
  };
}

function decision(id: string, kind: DecisionRecord['decision'], model: string): DecisionRecord {
  const alerting = kind !== 'ALLOW';
  return {
    transactionId: id,
    accountId: 'acc-000001',
    decision: kind,
    riskScore: alerting ? 0.8 : 0.1,
    modelVersion: model,
    modelScore: 0.42,
    shadowModelVersion: null,
    shadowScore: null,
    rulesetVersion: 'rs-1',
    shadowRules: null,
    rollout: null,
    ruleHits: alerting
      ? [{ ruleId: 'r-1', ruleVersion: 'v1', severity: 'high', action: 'REVIEW', detail: "it's \\ odd", snoozed: false }]
      : [],
    explanation: { summary: `${kind}: by ${model}`, model: null },
    alertId: alerting ? `alert-${id}-${model}`.padEnd(32, '0').slice(0, 32) : null,
    eventTime: Date.parse('2026-01-01T00:00:00Z'),
    decidedAt: Date.parse(`2026-01-01T00:00:0${model === 'm1' ? 1 : 2}.5Z`),
    amountMinor: 1999,
    currency: 'USD',
  };
}

describe('transactions sink', () => {
  it('stores the vector exactly, and `features` returns it as the named object', async () => {
    const values = vector(1999, 42, 'LOW', true, null, 'HIGH', false, 13, 3, -1.5e-7, 0.1 + 0.2);
    const result = await writeBatch(pool, { fresh: [positioned('vec-1', 1, values)], replayed: [], duplicates: [] });
    expect(result.inserted).toBe(1);
    const [[r]] = await pool.query<RowDataPacket[]>(
      "SELECT feature_layout, CAST(feature_values AS CHAR) AS v, features FROM transactions WHERE transaction_id = 'vec-1'",
    );
    expect(r?.feature_layout).toBe(layout);
    expect(r?.v).toBe(values);
    const object = JSON.parse(String(r?.features)) as Record<string, unknown>;
    expect(Object.keys(object)).toEqual(names);
    expect(object).toMatchObject({
      amount_base_minor: 1999,
      account_risk_tier: 'LOW',
      home_country_mismatch: true,
      account_count_1m: 3,
    });
    expect(object.account_sum_1m).toBe(-1.5e-7);
    expect(object.account_distinct_merchants_1m).toBe(0.30000000000000004);
  });

  it('stores text with every character the statement escapes, times to the millisecond and signed amounts exactly', async () => {
    const odd = 'q\'uo"te\\ nul\0 nl\n cr\r tab\t bs\b z\x1a ? é€😀';
    const p: PositionedTransaction = {
      ...positioned('odd-1', 50, vector(1)),
      tx: sampleTransaction({
        transaction_id: 'odd-1',
        idempotency_key: 'idem-odd-1',
        device_id: odd,
        reference: odd.slice(0, 30),
        amount_minor: -9_007_199_254_740_991,
        event_time: Date.parse('1999-12-31T23:59:59.999Z'),
        latitude: -33.123456789012,
        longitude: 1e-7,
      }),
    };
    expect((await writeBatch(pool, { fresh: [p], replayed: [], duplicates: [] })).inserted).toBe(1);
    const [[r]] = await pool.query<RowDataPacket[]>(
      "SELECT device_id, reference, CAST(amount_minor AS CHAR) AS amount, event_time, latitude, longitude FROM transactions WHERE transaction_id = 'odd-1'",
    );
    expect(r?.device_id).toBe(odd);
    expect(r?.reference).toBe(odd.slice(0, 30));
    expect(r?.amount).toBe('-9007199254740991');
    expect((r?.event_time as Date).toISOString()).toBe('1999-12-31T23:59:59.999Z');
    expect(r?.latitude).toBe(-33.123456789012);
    expect(r?.longitude).toBe(1e-7);
  });

  it('writes decisions into the rows; a replay keeps the stored row and decision, and its alert is not repeated', async () => {
    const first = [positioned('dec-a', 10, vector(1)), positioned('dec-b', 11, vector(2))];
    const r1 = await writeBatch(pool, {
      fresh: first,
      replayed: [],
      duplicates: [],
      decisions: [decision('dec-a', 'REVIEW', 'm1'), decision('dec-b', 'ALLOW', 'm1')],
    });
    expect(r1.inserted).toBe(2);
    expect(r1.decisions.map((d) => [d.transactionId, d.decision])).toEqual([
      ['dec-a', 'REVIEW'],
      ['dec-b', 'ALLOW'],
    ]);
    // The replay: same positions, decided again with another model (and other features): the stored ones win.
    const replay = [positioned('dec-a', 10, vector(100)), positioned('dec-b', 11, vector(200))];
    const r2 = await writeBatch(pool, {
      fresh: [],
      replayed: replay,
      duplicates: [],
      decisions: [decision('dec-a', 'BLOCK', 'm2'), decision('dec-b', 'REVIEW', 'm2')],
    });
    expect(r2.inserted).toBe(0);
    expect(r2.lateDuplicates).toEqual([]);
    const [a, b] = r2.decisions;
    expect(a).toMatchObject({
      transactionId: 'dec-a',
      decision: 'REVIEW',
      modelVersion: 'm1',
      alertId: decision('dec-a', 'REVIEW', 'm1').alertId,
      ruleHits: decision('dec-a', 'REVIEW', 'm1').ruleHits,
      explanation: { summary: 'REVIEW: by m1', model: null },
      decidedAt: Date.parse('2026-01-01T00:00:01.5Z'),
    });
    expect(b).toMatchObject({ transactionId: 'dec-b', decision: 'ALLOW', modelVersion: 'm1', alertId: null, ruleHits: [] });
    const [alerts] = await pool.query<RowDataPacket[]>(
      "SELECT alert_id, transaction_id FROM alerts WHERE transaction_id LIKE 'dec-%'",
    );
    expect(alerts.map((x) => x.transaction_id)).toEqual(['dec-a']);
    const [hits] = await pool.query<RowDataPacket[]>('SELECT rule_id FROM alert_rule_hits WHERE alert_id = ?', [a?.alertId]);
    expect(hits.map((h) => h.rule_id)).toEqual(['r-1']);
    const [rows] = await pool.query<RowDataPacket[]>(
      "SELECT transaction_id, decision, model_version, JSON_VALUE(features, '$.amount_base_minor') AS base FROM transactions WHERE transaction_id LIKE 'dec-%' ORDER BY transaction_id",
    );
    expect(rows.map((x) => [x.decision, x.model_version, Number(x.base)])).toEqual([
      ['REVIEW', 'm1', 1],
      ['ALLOW', 'm1', 2],
    ]);
    // The old reads: the decisions view.
    const [view] = await pool.query<RowDataPacket[]>(
      "SELECT transaction_id, decision, rule_hits FROM decisions WHERE transaction_id LIKE 'dec-%' ORDER BY transaction_id",
    );
    expect(view.map((x) => [x.transaction_id, x.decision, (parse(x.rule_hits) as unknown[]).length])).toEqual([
      ['dec-a', 'REVIEW', 1],
      ['dec-b', 'ALLOW', 0],
    ]);
  });

  it('in a batch of replays and new transactions, the new ones keep their own decisions, alerts with their rule hits', async () => {
    await writeBatch(pool, {
      fresh: [positioned('mix-old', 40, vector(1))],
      replayed: [],
      duplicates: [],
      decisions: [decision('mix-old', 'ALLOW', 'm1')],
    });
    const r = await writeBatch(pool, {
      fresh: [positioned('mix-new', 41, vector(2))],
      replayed: [positioned('mix-old', 40, vector(1))],
      duplicates: [],
      decisions: [decision('mix-new', 'REVIEW', 'm2'), decision('mix-old', 'BLOCK', 'm2')],
    });
    expect(r.inserted).toBe(1);
    expect(r.decisions.map((d) => [d.transactionId, d.decision, d.modelVersion, d.ruleHits.length])).toEqual([
      ['mix-new', 'REVIEW', 'm2', 1],
      ['mix-old', 'ALLOW', 'm1', 0],
    ]);
    const [[alert]] = await pool.query<RowDataPacket[]>(
      "SELECT rule_hits, explanation FROM alerts WHERE transaction_id = 'mix-new'",
    );
    expect(parse(alert?.rule_hits)).toEqual(decision('mix-new', 'REVIEW', 'm2').ruleHits);
    expect(parse(alert?.explanation)).toEqual({ summary: 'REVIEW: by m2', model: null });
    const [[hits]] = await pool.query<RowDataPacket[]>(
      "SELECT COUNT(*) AS n FROM alert_rule_hits h JOIN alerts a ON a.alert_id = h.alert_id WHERE a.transaction_id = 'mix-new'",
    );
    expect(Number(hits?.n)).toBe(1);
  });

  it('records a delivery MySQL holds from another position as a duplicate, with no decision of its own', async () => {
    await writeBatch(pool, {
      fresh: [positioned('dup-1', 20, vector(1))],
      replayed: [],
      duplicates: [],
      decisions: [decision('dup-1', 'ALLOW', 'm1')],
    });
    const again = positioned('dup-1', 21, vector(9));
    const r = await writeBatch(pool, {
      fresh: [again],
      replayed: [],
      duplicates: [],
      decisions: [decision('dup-1', 'BLOCK', 'm2')],
    });
    expect(r.lateDuplicates).toEqual([
      { transactionId: 'dup-1', position: again.position, firstSeen: 'in/0/20', detectedBy: 'mysql' },
    ]);
    expect(r.decisions).toEqual([]);
    expect(r.duplicatesRecorded).toBe(1);
  });

  it('lookupStored returns, per stored id, its first position, late flag, decoded vector and decision, in one statement per chunk', async () => {
    await writeBatch(pool, {
      fresh: [positioned('look-1', 30, vector(7, 8, 'MEDIUM'), true), positioned('look-2', 31, vector(5))],
      replayed: [],
      duplicates: [],
      decisions: [decision('look-1', 'REVIEW', 'm1')],
    });
    const stored = await lookupStored(pool, ['look-1', 'look-2', 'never-stored']);
    expect([...stored.keys()].sort()).toEqual(['look-1', 'look-2']);
    const one = stored.get('look-1');
    expect(one?.position).toEqual({ topic: 'in', partition: 0, offset: '30' });
    expect(one?.late).toBe(true);
    expect(one?.features?.layout).toBe(layout);
    expect(one?.features?.object()).toMatchObject({ amount_base_minor: 7, account_age_days: 8, account_risk_tier: 'MEDIUM' });
    expect(one?.decision).toMatchObject({
      decision: 'REVIEW',
      modelVersion: 'm1',
      ruleHits: decision('look-1', 'REVIEW', 'm1').ruleHits,
    });
    expect(stored.get('look-2')?.decision).toBeNull();
    expect(stored.get('look-2')?.late).toBe(false);
    // Chunked: more ids than one statement takes.
    const many = Array.from({ length: 12_000 }, (_, i) => `absent-${i}`).concat('look-2');
    expect([...(await lookupStored(pool, many)).keys()]).toEqual(['look-2']);
  });
});

describe('transactions sink, a batch in two round trips (oneTrip, as the ingest writes)', () => {
  /** A batch of new and replayed transactions, a duplicate delivery and alerts, its ids prefixed. */
  async function mixedBatch(prefix: string, at: number, opts: { oneTrip: boolean; stateGeneration?: number }, p: Pool) {
    await writeBatch(pool, {
      fresh: [positioned(`${prefix}-old`, at, vector(1))],
      replayed: [],
      duplicates: [],
      decisions: [decision(`${prefix}-old`, 'REVIEW', 'm1')],
    });
    return writeBatch(
      p,
      {
        fresh: [positioned(`${prefix}-new`, at + 2, vector(2, 3, 'HIGH')), positioned(`${prefix}-old`, at + 3, vector(9))],
        replayed: [positioned(`${prefix}-old`, at, vector(1))],
        duplicates: [
          {
            transactionId: `${prefix}-new`,
            position: { topic: 'in', partition: 0, offset: String(at + 4) },
            firstSeen: `in/0/${at + 2}`,
            detectedBy: 'redis',
          },
        ],
        decisions: [
          // Text beyond ASCII in the statements after the rows (the alert's): the query is UTF-8 throughout.
          { ...decision(`${prefix}-new`, 'BLOCK', 'm2'), explanation: { summary: 'BLOCK: naïve € 😀', model: null } },
          decision(`${prefix}-old`, 'ALLOW', 'm2'),
        ],
      },
      opts,
    );
  }

  /** Everything the batch left in MySQL, its ids' prefix and offsets from `at` taken out. */
  async function written(prefix: string, at = 0): Promise<unknown> {
    const strip = (v: unknown) =>
      typeof v === 'string'
        ? v.replaceAll(prefix, 'X').replace(/^in\/0\/(\d+)$/, (_, o: string) => `in/0/+${Number(o) - at}`)
        : typeof v === 'number'
          ? v - at
          : v instanceof Date
            ? v.toISOString()
            : v;
    const read = async (sql: string) => {
      const [rows] = await pool.query<RowDataPacket[]>(sql, [`${prefix}-%`]);
      return rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, strip(v)])));
    };
    return {
      transactions: await read(
        'SELECT transaction_id, src_offset, decision, model_version, alert_id, CAST(feature_values AS CHAR) AS v FROM transactions WHERE transaction_id LIKE ? ORDER BY transaction_id',
      ),
      alerts: await read(
        'SELECT alert_id, transaction_id, decision, summary, rule_hits FROM alerts WHERE transaction_id LIKE ? ORDER BY transaction_id',
      ),
      duplicates: await read(
        'SELECT transaction_id, src_offset, first_seen_position, detected_by FROM transaction_duplicates WHERE transaction_id LIKE ? ORDER BY src_offset',
      ),
    };
  }

  it('leaves exactly what the statement-by-statement write leaves, and returns the same result', async () => {
    const [[gen]] = await pool.query<RowDataPacket[]>('SELECT generation FROM state_generation WHERE id = 1');
    const stateGeneration = Number(gen?.generation ?? 0);
    const each = await mixedBatch('each', 100, { oneTrip: false, stateGeneration }, pool);
    const once = await mixedBatch('once', 200, { oneTrip: true, stateGeneration }, multi);
    const strip = (prefix: string, at: number, v: unknown) =>
      JSON.parse(
        JSON.stringify(v)
          .replaceAll(prefix, 'X')
          .replace(/"(\d+)"/g, (_, o: string) => `"+${Number(o) - at}"`)
          .replace(/in\/0\/(\d+)/g, (_, o: string) => `in/0/+${Number(o) - at}`),
      ) as unknown;
    expect(strip('once', 200, once)).toEqual(strip('each', 100, each));
    const one = once;
    expect(one.inserted).toBe(1);
    expect(one.duplicatesRecorded).toBe(2);
    // once-old is also delivered from another position in the batch: it gets no decision of its own.
    expect(one.decisions.map((d) => [d.transactionId, d.decision])).toEqual([['once-new', 'BLOCK']]);
    const w = await written('once', 200);
    expect(w).toEqual(await written('each', 100));
    expect((w as { alerts: Array<{ summary: string }> }).alerts.map((a) => a.summary)).toEqual([
      'BLOCK: naïve € 😀',
      'REVIEW: by m1',
    ]);
  });

  it('a batch whose state generation moved writes nothing and fails as lost state', async () => {
    const [[gen]] = await pool.query<RowDataPacket[]>('SELECT generation FROM state_generation WHERE id = 1');
    const stale = Number(gen?.generation ?? 0) - 1;
    await expect(mixedBatch('stale', 300, { oneTrip: true, stateGeneration: stale }, multi)).rejects.toBeInstanceOf(
      StateLostError,
    );
    const w = (await written('stale')) as { transactions: unknown[]; alerts: unknown[]; duplicates: unknown[] };
    // Only what the set-up wrote: the stale batch's row, alert and duplicates were rolled back.
    expect(w.transactions).toHaveLength(1);
    expect(w.alerts).toHaveLength(1);
    expect(w.duplicates).toEqual([]);
  });

  it('a row another writer stored after the look-up rolls the whole batch back (retried), its alerts too', async () => {
    const mine = positioned('race-mine', 200, vector(1));
    const theirs = positioned('race-theirs', 201, vector(2));
    // The look-up the ingest made found neither; then another writer stored one of them.
    const stored = await lookupStored(pool, ['race-mine', 'race-theirs']);
    expect(stored.size).toBe(0);
    await writeBatch(pool, { fresh: [theirs], replayed: [], duplicates: [] });
    await expect(
      writeBatch(
        multi,
        {
          fresh: [mine, theirs],
          replayed: [],
          duplicates: [],
          decisions: [decision('race-mine', 'REVIEW', 'm1'), decision('race-theirs', 'BLOCK', 'm1')],
          stored,
        },
        { oneTrip: true },
      ),
    ).rejects.toBeInstanceOf(DependencyError);
    const [rows] = await pool.query<RowDataPacket[]>(
      "SELECT transaction_id FROM transactions WHERE transaction_id LIKE 'race-%'",
    );
    expect(rows.map((r) => r.transaction_id)).toEqual(['race-theirs']);
    const [alerts] = await pool.query<RowDataPacket[]>("SELECT alert_id FROM alerts WHERE transaction_id LIKE 'race-%'");
    expect(alerts).toEqual([]);
    // The connection went back to the pool clean: the next batch on it commits normally.
    const again = await writeBatch(multi, { fresh: [mine], replayed: [], duplicates: [] }, { oneTrip: true });
    expect(again.inserted).toBe(1);
  });

  it('a statement failing inside the query rolls back the ones before it, keeps the text out of the error, and leaves the connection clean', async () => {
    const one = createPool(ns.cfg, { multipleStatements: true, connectionLimit: 1 });
    try {
      const ok = positioned('fail-ok', 400, vector(1));
      const bad = positioned('fail-bad', 401, vector(2));
      // An alert's decision must be REVIEW or BLOCK (alerts.decision): the transactions' INSERT
      // before it succeeds, the alerts' INSERT fails in strict mode.
      const err = await writeBatch(
        one,
        {
          fresh: [ok, bad],
          replayed: [],
          duplicates: [],
          decisions: [decision('fail-ok', 'ALLOW', 'm1'), { ...decision('fail-bad', 'REVIEW', 'm1'), decision: 'ALLOW' }],
        },
        { oneTrip: true },
      ).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Error);
      expect(String((err as { sql?: unknown }).sql)).toBe('[statement redacted]');
      const [rows] = await pool.query<RowDataPacket[]>(
        "SELECT transaction_id FROM transactions WHERE transaction_id LIKE 'fail-%'",
      );
      expect(rows).toEqual([]);
      const conn = await one.getConnection();
      try {
        const [[state]] = await conn.query<RowDataPacket[]>('SELECT @@in_transaction AS open');
        expect(Number(state?.open)).toBe(0);
      } finally {
        conn.release();
      }
      expect((await writeBatch(one, { fresh: [ok], replayed: [], duplicates: [] }, { oneTrip: true })).inserted).toBe(1);
    } finally {
      await one.end();
    }
  });

  it('a batch of more rows than one INSERT takes goes as one query per INSERT, in one transaction', async () => {
    const [[gen]] = await pool.query<RowDataPacket[]>('SELECT generation FROM state_generation WHERE id = 1');
    const many = Array.from({ length: 1_234 }, (_, i) => positioned(`many-${String(i).padStart(5, '0')}`, 1_000 + i, vector(i)));
    const r = await writeBatch(
      multi,
      {
        fresh: many,
        replayed: [],
        duplicates: [],
        decisions: many.map((p, i) => decision(p.tx.transaction_id, i % 100 === 0 ? 'REVIEW' : 'ALLOW', 'm1')),
      },
      { oneTrip: true, stateGeneration: Number(gen?.generation ?? 0) },
    );
    expect(r.inserted).toBe(1_234);
    const [[n]] = await pool.query<RowDataPacket[]>(
      "SELECT COUNT(*) AS rows_, (SELECT COUNT(*) FROM alerts WHERE transaction_id LIKE 'many-%') AS alerts_ FROM transactions WHERE transaction_id LIKE 'many-%'",
    );
    expect([Number(n?.rows_), Number(n?.alerts_)]).toEqual([1_234, 13]);
  });
});
