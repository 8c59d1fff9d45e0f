/**
 * MySQL sink for valid transactions with their decisions, duplicate deliveries and alerts: one row
 * per transaction (migration 013: the decision's columns and the feature vector in it), one
 * multi-row statement per table per batch, all in one MySQL transaction, idempotent under replay.
 */
import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import type { DecisionRecord } from '../detection/decision-record.ts';
import type { FeatureSource, VectorOut } from '../domain/snapshot.ts';
import type { Transaction } from '../domain/transaction.ts';
import { DependencyError, StateLostError } from '../platform/errors.ts';
import { formatQuery, rollbackOrDestroy, type Pool } from '../platform/mysql.ts';
import { DECISION_COLUMNS, alertStatements, decisionValues, withStoredDecisions, writeDecisionValues } from './decisions.sink.ts';
import { positionKey, type KafkaPosition } from './kafka-position.ts';
import { lookupStored, type StoredTransaction } from './lookup-stored.ts';
import { SqlText } from './row-text.ts';
import { rolloutCounts, rolloutCountsStatement, shadowCounts, shadowCountsStatement } from './decision-counts.sink.ts';
import { jsonLiteral } from './sql-literal.ts';

export { positionKey, type KafkaPosition } from './kafka-position.ts';

/** A valid transaction with the Kafka position it was read at. */
export interface PositionedTransaction {
  tx: Transaction;
  position: KafkaPosition;
  /** Older than the partition's watermark when it was read (set by the processor; false until then). */
  late?: boolean;
  /** The feature snapshot's layout (sinks/feature-vector.ts); set by the processor with featureValues. */
  featureLayout?: number;
  /** The snapshot's values in the layout's order, as JSON array text (domain/snapshot.ts SnapshotWriter). */
  featureValues?: string;
  /**
   * Writes the same values item by item (domain/snapshot.ts SnapshotWriter.writeFlat): what the
   * ingest sets instead of featureValues, so the row's text gets them without a text per
   * transaction in between. Wins over featureValues.
   */
  writeFeatures?: (out: VectorOut) => void;
  /** The same snapshot read in place, for rules and models; set by the processor, never stored. */
  snapshot?: FeatureSource;
}

export interface DuplicateDelivery {
  transactionId: string;
  position: KafkaPosition;
  firstSeen: string;
  detectedBy: 'redis' | 'mysql';
}

export interface SinkResult {
  inserted: number;
  /** Deliveries Redis called new or replay whose transaction MySQL already holds from another position. */
  lateDuplicates: DuplicateDelivery[];
  duplicatesRecorded: number;
  /** The batch's decisions as stored (a replayed transaction keeps its first decision); none for duplicates. */
  decisions: DecisionRecord[];
}

/** The columns the sink writes, in the order of transactionRow and writeTransactionRow. */
export const TRANSACTION_COLUMNS = [
  'transaction_id',
  'idempotency_key',
  'type',
  'account_id',
  'card_token',
  'card_last4',
  'merchant_id',
  'mcc',
  'merchant_country',
  'amount_minor',
  'currency',
  'event_time',
  'channel',
  'device_id',
  'ip_country',
  'reference',
  'parent_transaction_id',
  'latitude',
  'longitude',
  'late',
  'feature_layout',
  'feature_values',
  'src_topic',
  'src_partition',
  'src_offset',
  ...DECISION_COLUMNS,
] as const;

/**
 * Rows per statement (~1.3 KB a row): a saturated batch of ~2,500 rows is five statements in its one
 * MySQL transaction. One statement of the whole batch held its text twice at once (the string, and
 * mysql2's packet of it), ~6.5 MB outside V8's heap per batch in flight; 500 rows hold ~1.3 MB, and
 * MariaDB's CPU per transaction did not move (30–31 µs in the bench, 200,000 transactions).
 */
const CHUNK = 500;
/** A statement that takes longer fails (and the batch is retried) instead of stalling the partition. */
const QUERY_TIMEOUT_MS = 30_000;

const INSERT_TRANSACTIONS = `INSERT INTO transactions (${TRANSACTION_COLUMNS.join(', ')}) VALUES `;
const ON_DUPLICATE = ' ON DUPLICATE KEY UPDATE id = id';
/**
 * One buffer for every statement (~1 KB a row, kept at its largest): building is synchronous and
 * text() copies out, so concurrent batches cannot see each other's rows.
 */
const statement = new SqlText();

/**
 * The INSERT of `rows` with their decisions, as one string: the text mysql2 would format from
 * transactionRow's values (sinks/row-text.test.ts holds their bytes equal), built without its formatter.
 */
export function insertTransactionsSql(
  rows: readonly PositionedTransaction[],
  decided: ReadonlyMap<string, DecisionRecord>,
): string {
  return writeInsertTransactions(statement.reset(), rows, decided).text();
}

/** Appends the INSERT of `rows` with their decisions to `out`. */
function writeInsertTransactions(
  out: SqlText,
  rows: readonly PositionedTransaction[],
  decided: ReadonlyMap<string, DecisionRecord>,
): SqlText {
  out.raw(INSERT_TRANSACTIONS);
  for (const p of rows) writeTransactionRow(out, p, decided.get(p.tx.transaction_id));
  return out.raw(ON_DUPLICATE);
}

/** Writes the row's tuple: the values of transactionRow(p, d) as mysql2 writes them. */
export function writeTransactionRow(out: SqlText, p: PositionedTransaction, d: DecisionRecord | undefined): void {
  const t = p.tx;
  out
    .openRow()
    .string(t.transaction_id)
    .string(t.idempotency_key)
    .string(t.type)
    .string(t.account_id)
    .string(t.card_token)
    .nullableString(t.card_last4)
    .string(t.merchant_id)
    .string(t.mcc)
    .string(t.merchant_country)
    .number(t.amount_minor)
    .string(t.currency)
    .date(t.event_time)
    .string(t.channel)
    .nullableString(t.device_id)
    .nullableString(t.ip_country)
    .string(t.reference ?? t.transaction_id)
    .nullableString(t.parent_transaction_id)
    .nullableNumber(t.latitude)
    .nullableNumber(t.longitude)
    .boolean(p.late === true);
  if (p.writeFeatures !== undefined) {
    out.nullableNumber(p.featureLayout).openJsonArray();
    p.writeFeatures(out);
    out.closeJsonArray();
  } else if (p.featureValues === undefined) out.null().null();
  else out.nullableNumber(p.featureLayout).nullableJson(p.featureValues);
  out.string(p.position.topic).number(p.position.partition).string(p.position.offset);
  writeDecisionValues(out, d);
  out.closeRow();
}

/** A transaction's row: its fields, late flag, feature vector, first-seen position and decision. */
export function transactionRow(p: PositionedTransaction, d: DecisionRecord | undefined): unknown[] {
  const t = p.tx;
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
    p.late === true,
    p.featureValues === undefined ? null : (p.featureLayout ?? null),
    p.featureValues === undefined ? null : jsonLiteral(p.featureValues),
    p.position.topic,
    p.position.partition,
    p.position.offset,
    ...decisionValues(d),
  ];
}

/**
 * The fence between batches and a state rebuild (migrations/005): holds a shared lock on the state
 * generation until the batch's transaction ends, and fails the batch (retried) when the state was
 * rebuilt after its Redis scripts ran.
 */
const CHECK_GENERATION = 'SELECT generation FROM state_generation WHERE id = 1 LOCK IN SHARE MODE';

function checkStateGeneration(rows: RowDataPacket[], expected: number): void {
  const current = Number(rows[0]?.generation ?? 0);
  if (current !== expected)
    throw new StateLostError(
      `the state was rebuilt (generation ${current}) after this batch's Redis scripts ran (generation ${expected}); the batch is retried`,
    );
}

/** One statement of a batch's transaction, and what its answer must show. */
type Statement =
  | { sql: string; kind: 'generation'; expected: number }
  | { kind: 'insert'; rows: readonly PositionedTransaction[] }
  | { sql: string; kind: 'duplicates' }
  | { sql: string; kind: 'other' };

/**
 * Writes one batch. `fresh` are records Redis saw for the first time, `replayed` records it saw at
 * the same position before (a crash between Redis and MySQL, or a re-read). Rows that MySQL already
 * holds from a *different* position are duplicates Redis could not see (its state was lost), and are
 * recorded as such: MySQL's unique key is the backstop of deduplication.
 *
 * With `oneTrip` (a pool created with `multipleStatements`), the transaction's statements go to
 * MariaDB as one multi-statement query per INSERT of up to CHUNK rows, and its COMMIT after them:
 * two round trips for a batch of up to CHUNK rows, where one per statement (BEGIN, the generation
 * check, the INSERTs, the alerts, COMMIT) was five or more. The answers are checked before the
 * COMMIT, and a failed check rolls back as before.
 */
export async function writeBatch(
  pool: Pool,
  batch: {
    fresh: PositionedTransaction[];
    replayed: PositionedTransaction[];
    duplicates: DuplicateDelivery[];
    /** Decisions of fresh and replayed transactions (issue 5), stored in their rows. */
    decisions?: DecisionRecord[];
    /** What lookupStored returned for these transactions, when the caller read it already (else the sink does). */
    stored?: ReadonlyMap<string, StoredTransaction>;
  },
  opts: { stateGeneration?: number; oneTrip?: boolean } = {},
): Promise<SinkResult> {
  const conn = await pool.getConnection();
  try {
    // Sorted by the unique key: concurrent batches then take row locks in the same order (no deadlock cycles).
    const all = batch.fresh
      .concat(batch.replayed)
      .sort((a, b) => (a.tx.transaction_id < b.tx.transaction_id ? -1 : a.tx.transaction_id > b.tx.transaction_id ? 1 : 0));
    const decided = new Map<string, DecisionRecord>();
    for (const d of batch.decisions ?? []) decided.set(d.transactionId, d);
    // What MySQL holds already (one look-up on the unique key, ~2 µs an id when new): those rows stay
    // as stored, so a replay keeps its first decision and snapshot, and its alert is the same
    // whatever changed meanwhile (a promoted model, new rules). Read before the insert: afterwards
    // this batch's own rows could not be told from the stored ones. A row another writer stores
    // after the look-up fails the insert's count below, and the batch is retried.
    const stored =
      batch.stored ??
      (await lookupStored(
        conn,
        all.map((p) => p.tx.transaction_id),
        { timeoutMs: QUERY_TIMEOUT_MS },
      ));
    // Nothing stored (the usual batch): every one is inserted, without a copy of the list.
    const toInsert = stored.size === 0 ? all : all.filter((p) => !stored.has(p.tx.transaction_id));
    // Stored from another Kafka position: a duplicate Redis could not see.
    const lateDuplicates: DuplicateDelivery[] = [];
    for (const p of all) {
      const s = stored.get(p.tx.transaction_id);
      if (s === undefined) continue;
      const first = positionKey(s.position);
      if (first !== positionKey(p.position))
        lateDuplicates.push({ transactionId: p.tx.transaction_id, position: p.position, firstSeen: first, detectedBy: 'mysql' });
    }
    const duplicates = batch.duplicates.concat(lateDuplicates);
    // A delivery MySQL calls a duplicate gets no decision: its transaction has one from its first delivery.
    const lateIds = new Set(lateDuplicates.map((d) => d.transactionId));
    const decisions = withStoredDecisions(
      lateIds.size === 0 ? (batch.decisions ?? []) : (batch.decisions ?? []).filter((d) => !lateIds.has(d.transactionId)),
      stored,
    );

    const statements: Statement[] = [];
    if (opts.stateGeneration !== undefined)
      statements.push({ sql: CHECK_GENERATION, kind: 'generation', expected: opts.stateGeneration });
    for (let i = 0; i < toInsert.length; i += CHUNK) {
      statements.push({ kind: 'insert', rows: toInsert.slice(i, i + CHUNK) });
    }
    // The shadow rule set's and a rollout's arms' decisions of the rows inserted here (none while
    // no rule set is in shadow and no rollout runs).
    for (const sql of [
      shadowCountsStatement(shadowCounts(toInsert, decided)),
      rolloutCountsStatement(rolloutCounts(toInsert, decided)),
    ])
      if (sql !== null) statements.push({ sql, kind: 'other' });
    for (let i = 0; i < duplicates.length; i += CHUNK)
      statements.push({ sql: duplicatesStatement(duplicates.slice(i, i + CHUNK)), kind: 'duplicates' });
    for (const sql of alertStatements(decisions)) statements.push({ sql, kind: 'other' });

    let answers: unknown[];
    if (opts.oneTrip === true && statements.length > 0) {
      // Queries of at most one INSERT of CHUNK rows each (~0.7 MB: far below any server's
      // max_allowed_packet, and the memory CHUNK bounds), the small statements joining the first
      // and the last: one query for a batch of up to CHUNK rows. Each is written into one buffer
      // and read out once: the rows' text is not copied again to join it.
      answers = [];
      let first = true;
      for (let i = 0; i < statements.length;) {
        const text = statement.reset();
        if (first) text.raw('START TRANSACTION');
        let count = 0;
        let rows = 0;
        for (; i < statements.length; i++) {
          const s = statements[i] as Statement;
          if (s.kind === 'insert' && rows > 0) break;
          if (first || count > 0) text.raw(';\n');
          if (s.kind === 'insert') {
            writeInsertTransactions(text, s.rows, decided);
            rows += s.rows.length;
          } else text.statement(s.sql);
          count++;
        }
        const [res] = await conn.query({ sql: text.text(), timeout: QUERY_TIMEOUT_MS });
        // One answer per statement (START TRANSACTION's first); a query of one statement gives it alone.
        const got = count + (first ? 1 : 0) === 1 ? [res] : (res as unknown[]);
        answers.push(...(first ? got.slice(1) : got));
        first = false;
      }
    } else {
      await conn.beginTransaction();
      answers = [];
      for (const s of statements) {
        const sql = s.kind === 'insert' ? insertTransactionsSql(s.rows, decided) : s.sql;
        const [res] = await conn.query({ sql, timeout: QUERY_TIMEOUT_MS });
        answers.push(res);
      }
    }
    let inserted = 0;
    let duplicatesRecorded = 0;
    statements.forEach((s, i) => {
      const res = answers[i];
      if (s.kind === 'generation') checkStateGeneration(res as RowDataPacket[], s.expected);
      else if (s.kind === 'insert') inserted += (res as ResultSetHeader).affectedRows;
      else if (s.kind === 'duplicates') duplicatesRecorded += (res as ResultSetHeader).affectedRows;
    });
    // Another writer (a zombie of a rebalance) stored some of them since the look-up: start over.
    if (inserted !== toInsert.length)
      throw new DependencyError(
        'mysql',
        `${toInsert.length - inserted} of the batch's transactions were stored by another writer meanwhile; the batch is retried`,
      );
    await conn.commit();
    return { inserted, lateDuplicates, duplicatesRecorded, decisions };
  } catch (err) {
    await rollbackOrDestroy(conn);
    throw withoutSql(err);
  } finally {
    conn.release();
  }
}

/** The statement that records duplicate deliveries (a replayed one is recorded once). */
function duplicatesStatement(chunk: readonly DuplicateDelivery[]): string {
  return formatQuery(
    'INSERT INTO transaction_duplicates (src_topic, src_partition, src_offset, transaction_id, first_seen_position, detected_by) VALUES ? ' +
      'ON DUPLICATE KEY UPDATE src_offset = src_offset',
    [chunk.map((d) => [d.position.topic, d.position.partition, d.position.offset, d.transactionId, d.firstSeen, d.detectedBy])],
  );
}

/** mysql2 errors carry the whole statement in `.sql`, card tokens included: never let it reach a log. */
function withoutSql(err: unknown): unknown {
  if (err && typeof err === 'object' && 'sql' in err) {
    Object.defineProperty(err, 'sql', { value: '[statement redacted]', enumerable: false });
  }
  return err;
}
