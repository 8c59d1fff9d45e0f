// The sink's INSERT text, built without mysql2, must reach MariaDB as the very bytes mysql2's own
// formatter (sql-escaper, the pool's timezone 'Z') sends for transactionRow's values, so nothing
// stored changes. Bytes, not strings: a lone surrogate comes back from the buffer as U+FFFD, which
// is what mysql2's UTF-8 encoder sends for it anyway.
import fc from 'fast-check';
import mysql, { type SqlValue } from 'mysql2';
import { describe, expect, it } from 'vitest';
import type { DecisionRecord } from '../detection/decision-record.ts';
import type { Channel, Transaction, TransactionType } from '../domain/transaction.ts';
import { sampleTransaction } from '../domain/transaction.fixture.ts';
import type { StaticFeatures } from '../domain/enrich.ts';
import { SnapshotWriter, type FlatFeatures } from '../domain/snapshot.ts';
import { DEFAULT_WINDOWS } from '../domain/windows.ts';
import { escapedText, SqlText } from './row-text.ts';
import {
  insertTransactionsSql,
  TRANSACTION_COLUMNS,
  transactionRow,
  writeTransactionRow,
  type PositionedTransaction,
} from './transactions.sink.ts';

/** What writeBatch sent before: mysql2 formats the rows into the statement (stringifyObjects off, timezone 'Z'). */
function mysql2Sql(rows: readonly PositionedTransaction[], decided: ReadonlyMap<string, DecisionRecord>): string {
  return mysql.format(
    `INSERT INTO transactions (${TRANSACTION_COLUMNS.join(', ')}) VALUES ? ON DUPLICATE KEY UPDATE id = id`,
    [rows.map((p) => transactionRow(p, decided.get(p.tx.transaction_id)) as SqlValue[])],
    false,
    'Z',
  );
}

/** The text as its UTF-8 bytes read back: equal exactly when the bytes sent are equal (and quick to compare). */
const wire = (s: string): string => Buffer.from(s, 'utf8').toString('utf8');

/** The statement written from a buffer of 16 bytes, which grows on the way. */
function grownSql(rows: readonly PositionedTransaction[], decided: ReadonlyMap<string, DecisionRecord>): string {
  const out = new SqlText(16).raw(`INSERT INTO transactions (${TRANSACTION_COLUMNS.join(', ')}) VALUES `);
  for (const p of rows) writeTransactionRow(out, p, decided.get(p.tx.transaction_id));
  return out.raw(' ON DUPLICATE KEY UPDATE id = id').text();
}

/** mysql2's text for one Date, quotes included. */
const mysql2Date = (ms: number): string => mysql.format('?', [new Date(ms)], false, 'Z');

// Strings heavy in what must be escaped, beside arbitrary UTF-16 (lone surrogates included) and full code points.
const special = fc.constantFrom(
  '\0',
  '\b',
  '\t',
  '\n',
  '\r',
  '\x1a',
  '"',
  "'",
  '\\',
  '?',
  '`',
  '%',
  'é',
  '€',
  '😀',
  '\uD800',
  'a',
  '0',
  ' ',
);
const text = fc.oneof(
  fc.string({ unit: special, maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 20 }),
  fc.string({ maxLength: 40 }),
);
const nullableText = fc.option(text, { nil: null });
const MAX_TIME = 8.64e15;
/** Epoch ms: recent, any a Date holds (far past and future, negative years), fractional, and beyond a Date's range. */
const time = fc.oneof(
  fc.integer({ min: 0, max: 2 ** 31 - 1 }).map((x) => 1_767_225_600_000 + x * 7),
  fc.integer({ min: -MAX_TIME, max: MAX_TIME }),
  fc.double({ min: -MAX_TIME, max: MAX_TIME }),
  fc.constantFrom(MAX_TIME, -MAX_TIME, MAX_TIME + 1, -MAX_TIME - 1, 0, -0, -1, -0.5, 253_402_300_799_999, -62_198_755_200_000),
  fc.double(),
);
/** Amounts in minor units: any safe integer, negative and large included. */
const amount = fc.oneof(fc.integer(), fc.maxSafeInteger(), fc.constantFrom(0, -0, 1e15, -1e15));
/** Scores, latitudes, means: any double (NaN, infinities, -0, 1e21, 1e-7 included). */
const real = fc.oneof(fc.double(), fc.double({ min: -180, max: 180 }), fc.constantFrom(0.1 + 0.2, -1.5e-7, 1e21, 5e-324));
const nullableReal = fc.option(real, { nil: null });
/** Feature vectors: JSON arrays of the values a snapshot holds (strings may bring quotes and backslashes), or any text. */
const featureValues = fc.oneof(
  fc
    .array(fc.oneof(real, fc.constant(null), fc.boolean(), fc.string({ unit: special, maxLength: 4 })), { maxLength: 12 })
    .map((a) => JSON.stringify(a)),
  text,
);

const transaction: fc.Arbitrary<Transaction> = fc.record({
  transaction_id: text,
  idempotency_key: text,
  type: fc.constantFrom<TransactionType>('AUTHORIZATION', 'CAPTURE', 'REFUND', 'REVERSAL'),
  account_id: text,
  card_token: text,
  card_last4: nullableText,
  merchant_id: text,
  mcc: text,
  merchant_country: text,
  amount_minor: amount,
  currency: text,
  event_time: time,
  channel: fc.constantFrom<Channel>('POS', 'ECOMMERCE', 'ATM', 'MOTO', 'RECURRING', 'OTHER'),
  device_id: nullableText,
  ip_country: nullableText,
  reference: nullableText,
  parent_transaction_id: nullableText,
  latitude: nullableReal,
  longitude: nullableReal,
  card_bin: nullableText,
});

const positioned: fc.Arbitrary<PositionedTransaction> = fc.record(
  {
    tx: transaction,
    position: fc.record({
      topic: text,
      partition: fc.integer({ min: 0, max: 1_000 }),
      offset: fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }).map(String),
    }),
    late: fc.boolean(),
    featureLayout: fc.integer({ min: 1, max: 1_000_000 }),
    featureValues,
  },
  { requiredKeys: ['tx', 'position'] },
);

const decision = (transactionId: string): fc.Arbitrary<DecisionRecord> =>
  fc.record({
    transactionId: fc.constant(transactionId),
    accountId: text,
    decision: fc.constantFrom('ALLOW', 'REVIEW', 'BLOCK'),
    riskScore: real,
    modelVersion: nullableText,
    modelScore: nullableReal,
    shadowModelVersion: nullableText,
    shadowScore: nullableReal,
    rulesetVersion: text,
    shadowRules: fc.constant(null),
    rollout: fc.constant(null),
    ruleHits: fc.constant([]),
    explanation: fc.record({ summary: text, model: fc.constant(null) }),
    alertId: nullableText,
    eventTime: time,
    decidedAt: time,
    amountMinor: amount,
    currency: text,
  });

/** Rows, and a decision for some of them (none for others, as for a batch's duplicates). */
const batch = fc
  .array(positioned, { minLength: 1, maxLength: 8 })
  .chain((rows) =>
    fc
      .tuple(...rows.map((p) => fc.option(decision(p.tx.transaction_id), { nil: undefined })))
      .map((ds) => ({ rows, decided: new Map(ds.flatMap((d) => (d === undefined ? [] : [[d.transactionId, d] as const]))) })),
  );

describe('insertTransactionsSql', () => {
  it('sends the bytes mysql2 formats from transactionRow, for rows of any content', () => {
    fc.assert(
      fc.property(batch, ({ rows, decided }) => {
        const expected = wire(mysql2Sql(rows, decided));
        expect(wire(insertTransactionsSql(rows, decided))).toBe(expected);
        expect(wire(grownSql(rows, decided))).toBe(expected);
      }),
      { numRuns: 2_000 },
    );
  });

  it('a typical row: strings quoted, the absent as NULL, the time in UTC with milliseconds', () => {
    const p: PositionedTransaction = {
      tx: sampleTransaction({ transaction_id: "tx-'1'", event_time: Date.parse('2026-01-01T09:08:07.006Z'), latitude: -33.5 }),
      position: { topic: 'in', partition: 2, offset: '17' },
      late: true,
      featureLayout: 3,
      featureValues: '[1999,"LOW",null,0.30000000000000004]',
    };
    const sql = insertTransactionsSql([p], new Map());
    expect(sql).toBe(mysql2Sql([p], new Map()));
    expect(sql).toContain(
      "VALUES ('tx-\\'1\\'', 'idem-1', 'AUTHORIZATION', 'acc-000001', 'tok_ab12', '4242', 'm-1', '5411', 'US', 1999, 'USD', '2026-01-01 09:08:07.006', 'POS', NULL, NULL, 'tx-\\'1\\'', NULL, -33.5, NULL, true, 3, '[1999,\"LOW\",null,0.30000000000000004]', 'in', 2, '17', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL) ON DUPLICATE KEY UPDATE id = id",
    );
  });
});

describe('SqlText', () => {
  it('times whose hours share a cache slot are each written as their own', () => {
    const base = Date.parse('2026-03-01T00:00:00.000Z');
    // 64 hours apart: the same slot of the hour cache, alternately.
    const times = [0, 64, 0, 128, 64, -64, 0].map((h) => base + h * 3_600_000 + 59_999);
    for (const t of times) expect(new SqlText().openRow().date(t).closeRow().text()).toBe(`(${mysql2Date(t)})`);
  });

  it('separates values and tuples as mysql2 does, and starts afresh after reset', () => {
    const out = new SqlText().raw('VALUES ');
    out.openRow().number(-12).nullableString(null).closeRow().openRow().boolean(false).string('a\nb').closeRow();
    expect(out.text()).toBe("VALUES (-12, NULL), (false, 'a\\nb')");
    expect(out.reset().raw('X ').openRow().nullableJson('[1]').closeRow().text()).toBe("X ('[1]')");
  });

  it('appends whole statements as they are, in UTF-8, between rows of its own (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'binary' }), { maxLength: 4 }), fc.string({ unit: 'binary' }), (texts, value) => {
        // A small first buffer: statements longer than it grow it.
        const out = new SqlText(8).raw('A ').openRow().number(1).closeRow();
        // A tuple straight after a statement is not joined to the one before it by a comma.
        for (const t of texts) out.raw(';').statement(t).openRow().string(value).closeRow();
        const tuple = new SqlText().openRow().string(value).closeRow().text();
        const want = 'A (1)' + texts.map((t) => ';' + t + tuple).join('');
        expect(out.text()).toBe(Buffer.from(want, 'utf8').toString('utf8'));
      }),
    );
  });
});

describe('escapedText', () => {
  it('is the string itself when nothing needs escaping (no copy), and escapes as mysql2 does otherwise', () => {
    const s = 'acc-000001 café 😀 ?%`';
    expect(escapedText(s)).toBe(s);
    const odd = `${s}'"\\\\0\b\t\n\r\x1a\0`;
    expect(`'${escapedText(odd)}'`).toBe(mysql.format('?', [odd]));
  });
});

describe('a feature vector written item by item (SnapshotWriter.writeFlat)', () => {
  const windows = DEFAULT_WINDOWS;
  const per = windows.length * 4 + 6;
  const num = fc.oneof(fc.integer(), fc.double(), fc.constant(-0), fc.constant(Number.NaN), fc.constant(2 ** 53));
  const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: null });
  const statics = fc.record({
    amount_base_minor: maybe(fc.integer()),
    account_age_days: maybe(fc.nat()),
    account_risk_tier: maybe(fc.constantFrom('LOW', 'MEDIUM', 'HIGH')),
    home_country_mismatch: maybe(fc.boolean()),
    ip_country_mismatch: maybe(fc.boolean()),
    merchant_risk_tier: maybe(fc.constantFrom('LOW', 'MEDIUM', 'HIGH')),
    bin_country_mismatch: maybe(fc.boolean()),
    hour_of_day: fc.integer({ min: 0, max: 23 }),
  }) as fc.Arbitrary<StaticFeatures>;
  const flat = fc
    .tuple(fc.array(num, { minLength: 8 * per, maxLength: 8 * per }), fc.integer({ min: 0, max: 1 }), fc.boolean())
    .map(([v, i, hasDevice]): FlatFeatures => ({ values: Float64Array.from(v), at: i * 4 * per, hasDevice }));

  it('gives the bytes of the vector as text (valuesFlat), quoted as nullableJson quotes it (property)', () => {
    const writer = new SnapshotWriter(windows);
    fc.assert(
      fc.property(statics, flat, (st, f) => {
        const direct = new SqlText(16).openRow();
        direct.openJsonArray();
        writer.writeFlat(st, f, direct);
        direct.closeJsonArray().closeRow();
        const viaText = new SqlText(16).openRow().nullableJson(writer.valuesFlat(st, f)).closeRow();
        expect(direct.text()).toBe(viaText.text());
      }),
      { numRuns: 300 },
    );
  });

  it('refuses a string item that would need escaping, as the text does', () => {
    const writer = new SnapshotWriter(windows);
    const st = { hour_of_day: 1, account_risk_tier: 'LOW,HIGH' } as unknown as StaticFeatures;
    const f = { values: new Float64Array(4 * per), at: 0, hasDevice: false };
    expect(() => writer.writeFlat(st, f, new SqlText().openRow().openJsonArray())).toThrow(/comma/);
    expect(() => new SqlText().openRow().openJsonArray().jsonScalar("it's")).toThrow(RangeError);
  });
});
