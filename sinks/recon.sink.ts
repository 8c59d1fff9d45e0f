/**
 * MySQL side of reconciliation: one MySQL transaction per input batch stores the batch's settlement
 * lines and expected transactions (once each), advances the event-time watermark, recomputes every
 * group the batch touched or whose deadline it passed, stores changed results with their events,
 * and returns the events the batch's Kafka transaction must carry. Idempotent under replay: a
 * re-read line or transaction inserts nothing, so its group recomputes to what is stored.
 */
import type { PoolConnection, RowDataPacket } from 'mysql2/promise';
import { isoDate, type Settlement } from '../domain/settlement.ts';
import { inTransaction, type Pool } from '../platform/mysql.ts';
import { groupChange, type ReconEventPayload, type StoredResult } from '../reconciliation/changes.ts';
import {
  reconcileGroup,
  type ExpectedItem,
  type MatchPolicy,
  type ReconStatus,
  type SettledLine,
} from '../reconciliation/match.ts';
import type { KafkaPosition } from './kafka-position.ts';
import type { PositionedTransaction } from './transactions.sink.ts';

/** A decoded, valid settlement line and where it was read. */
export interface PositionedSettlement {
  line: Settlement;
  position: KafkaPosition;
}

const DAY_MS = 86_400_000;
/** References per recompute query. */
const CHUNK = 2_000;

export interface ReconBatch {
  groupId: string;
  /**
   * The input batch: its topic and partition, first and last offsets, and the group's committed
   * offset for the partition read after this instance fenced its previous owner (null: none yet).
   */
  source: { topic: string; partition: number; firstOffset: string; lastOffset: string; committed: string | null };
  settlements: readonly PositionedSettlement[];
  /** Valid transactions of settle-able types. */
  items: readonly PositionedTransaction[];
  /** Valid captures and reversals with a parent: the parent expects nothing itself any more. */
  supersessions: ReadonlyArray<{ child: string; parent: string; type: 'CAPTURE' | 'REVERSAL' }>;
  policy: MatchPolicy;
  allowedLatenessMs: number;
  /** Wall clock of the change records (stored; a replay reuses the stored events). */
  now: number;
}

export interface ReconBatchResult {
  /** Lines whose settlement_id was stored before with other content (dead-lettered by the caller). */
  conflicts: Array<{ line: PositionedSettlement; first: KafkaPosition }>;
  /** Lines re-sent with identical content from another position (a re-imported file): harmless. */
  resent: number;
  settlementsStored: number;
  itemsStored: number;
  /** Groups whose stored result changed, by new status. */
  changes: Partial<Record<ReconStatus, number>>;
  /** Events for this batch's Kafka transaction: new ones and any an interrupted attempt left unsent. */
  toPublish: ReconEventPayload[];
  /** Events found unpublished whose Kafka transaction had committed after all (marked now). */
  confirmed: number;
  /** Kafka's committed offset is already past this batch: it must not be committed again (never backwards). */
  alreadyCommitted: boolean;
  /** Watermark after the batch (event time ms), or null before the first settlement line. */
  watermark: number | null;
}

type Row = RowDataPacket & Record<string, unknown>;
const big = (v: unknown): bigint => BigInt(String(v));
const ms = (v: unknown): number => (v instanceof Date ? v.getTime() : Date.parse(String(v)));

/** Applies one input batch; see the module comment. */
export function applyReconBatch(pool: Pool, b: ReconBatch): Promise<ReconBatchResult> {
  return inTransaction(pool, (conn) => applyIn(conn, b));
}

/**
 * Marks the events whose batch Kafka's committed offsets have passed (their Kafka transaction
 * committed) as published: a batch marks its own, and the partition's next batch those a crash
 * left; this covers a partition that has no next batch (at start-up and at a graceful stop).
 */
export async function confirmPublished(
  pool: Pool,
  committed: ReadonlyArray<{ topic: string; partition: number; offset: string }>,
): Promise<number> {
  let n = 0;
  for (const c of committed) {
    const [res] = await pool.query(
      'UPDATE recon_events SET published = 1 WHERE src_topic = ? AND src_partition = ? AND published = 0 AND src_offset < ?',
      [c.topic, c.partition, c.offset],
    );
    n += (res as { affectedRows: number }).affectedRows;
  }
  return n;
}

/** Marks events published once the Kafka transaction that carried them has committed. */
export async function markPublished(pool: Pool, ids: readonly string[]): Promise<void> {
  for (let i = 0; i < ids.length; i += CHUNK)
    await pool.query('UPDATE recon_events SET published = 1 WHERE exception_id IN (?)', [ids.slice(i, i + CHUNK)]);
}

async function applyIn(conn: PoolConnection, b: ReconBatch): Promise<ReconBatchResult> {
  // One batch at a time per consumer group, whichever instance runs it: the progress row's lock.
  // Exclusive from the start (INSERT IGNORE would take a shared lock, and two batches upgrading theirs deadlock).
  await conn.query(
    'INSERT INTO recon_progress (group_id, updated_at) VALUES (?, NOW(3)) ON DUPLICATE KEY UPDATE group_id = group_id',
    [b.groupId],
  );
  const [[progress]] = await conn.query<Row[]>('SELECT max_settlement_time FROM recon_progress WHERE group_id = ? FOR UPDATE', [
    b.groupId,
  ]);
  let maxSettlement = progress?.max_settlement_time == null ? null : ms(progress.max_settlement_time);

  const touched = new Set<string>();
  const { conflicts, resent, stored: settlementsStored } = await storeSettlements(conn, b.settlements);
  const conflicted = new Set(conflicts.map((c) => c.line));
  for (const s of b.settlements) {
    if (conflicted.has(s)) continue;
    touched.add(s.line.transaction_reference);
    if (maxSettlement === null || s.line.event_time > maxSettlement) maxSettlement = s.line.event_time;
  }
  const itemsStored = await storeItems(conn, b.items);
  for (const i of b.items) touched.add(i.tx.reference ?? i.tx.transaction_id);
  for (const ref of await storeSupersessions(conn, b.supersessions)) touched.add(ref);

  const watermark = maxSettlement === null ? null : maxSettlement - b.allowedLatenessMs;
  if (watermark !== null) {
    const [due] = await conn.query<Row[]>("SELECT reference FROM recon_results WHERE status = 'PENDING' AND deadline <= ?", [
      new Date(watermark),
    ]);
    for (const r of due) touched.add(String(r.reference));
  }

  const changes: Partial<Record<ReconStatus, number>> = {};
  const refs = [...touched].sort();
  for (let i = 0; i < refs.length; i += CHUNK) {
    const chunk = refs.slice(i, i + CHUNK);
    const events = await recompute(conn, chunk, watermark, b);
    for (const [status, n] of Object.entries(events)) changes[status as ReconStatus] = (changes[status as ReconStatus] ?? 0) + n;
  }

  // The outbox of this input partition. An event is tagged with the last offset of the batch that
  // last tried to publish it: below the group's committed offset, that batch's Kafka transaction
  // committed (the event went out; it is marked now); at or above, it did not, and the event goes
  // out with this batch, tagged with this batch's last offset (whatever the batch boundaries were).
  const [pending] = await conn.query<Row[]>(
    'SELECT exception_id, payload, src_offset FROM recon_events WHERE src_topic = ? AND src_partition = ? AND published = 0 ORDER BY reference, revision',
    [b.source.topic, b.source.partition],
  );
  const boundary = BigInt(b.source.committed ?? b.source.firstOffset);
  const alreadyCommitted = b.source.committed !== null && BigInt(b.source.committed) > BigInt(b.source.lastOffset);
  const confirmedIds = pending.filter((r) => big(r.src_offset) < boundary).map((r) => String(r.exception_id));
  const retag = alreadyCommitted ? [] : pending.filter((r) => big(r.src_offset) >= boundary);
  for (let i = 0; i < confirmedIds.length; i += CHUNK)
    await conn.query('UPDATE recon_events SET published = 1 WHERE exception_id IN (?)', [confirmedIds.slice(i, i + CHUNK)]);
  for (let i = 0; i < retag.length; i += CHUNK)
    await conn.query('UPDATE recon_events SET src_offset = ? WHERE exception_id IN (?)', [
      b.source.lastOffset,
      retag.slice(i, i + CHUNK).map((r) => String(r.exception_id)),
    ]);
  const toPublish = retag.map((r) => (typeof r.payload === 'string' ? JSON.parse(r.payload) : r.payload) as ReconEventPayload);

  await conn.query('UPDATE recon_progress SET max_settlement_time = ?, updated_at = NOW(3) WHERE group_id = ?', [
    maxSettlement === null ? null : new Date(maxSettlement),
    b.groupId,
  ]);
  return {
    conflicts,
    resent,
    settlementsStored,
    itemsStored,
    changes,
    toPublish,
    confirmed: confirmedIds.length,
    alreadyCommitted,
    watermark,
  };
}

const SETTLEMENT_COLUMNS =
  'settlement_id, transaction_reference, amount_minor, currency, settlement_date, batch_id, fee_minor, event_time, src_topic, src_partition, src_offset';

/** Inserts new lines; tells a replay (same position), a harmless re-send and a conflicting re-use of an id apart. */
async function storeSettlements(
  conn: PoolConnection,
  lines: readonly PositionedSettlement[],
): Promise<{ conflicts: ReconBatchResult['conflicts']; resent: number; stored: number }> {
  if (lines.length === 0) return { conflicts: [], resent: 0, stored: 0 };
  const [res] = await conn.query(`INSERT IGNORE INTO settlements (${SETTLEMENT_COLUMNS}) VALUES ?`, [
    lines.map(({ line: s, position: p }) => [
      s.settlement_id,
      s.transaction_reference,
      s.amount_minor,
      s.currency,
      isoDate(s.settlement_date),
      s.batch_id,
      s.fee_minor,
      new Date(s.event_time),
      p.topic,
      p.partition,
      p.offset,
    ]),
  ]);
  const stored = (res as { affectedRows: number }).affectedRows;
  const [rows] = await conn.query<Row[]>(`SELECT ${SETTLEMENT_COLUMNS} FROM settlements WHERE settlement_id IN (?)`, [
    [...new Set(lines.map((l) => l.line.settlement_id))],
  ]);
  const byId = new Map(rows.map((r) => [String(r.settlement_id), r]));
  const conflicts: ReconBatchResult['conflicts'] = [];
  let resent = 0;
  for (const l of lines) {
    const r = byId.get(l.line.settlement_id);
    if (!r) throw new Error(`settlement ${l.line.settlement_id} vanished inside its own transaction`);
    const first = { topic: String(r.src_topic), partition: Number(r.src_partition), offset: String(r.src_offset) };
    if (first.topic === l.position.topic && first.partition === l.position.partition && first.offset === l.position.offset)
      continue;
    const s = l.line;
    const same =
      String(r.transaction_reference) === s.transaction_reference &&
      big(r.amount_minor) === BigInt(s.amount_minor) &&
      String(r.currency) === s.currency &&
      Math.round(ms(r.settlement_date) / DAY_MS) === s.settlement_date &&
      String(r.batch_id) === s.batch_id &&
      big(r.fee_minor) === BigInt(s.fee_minor) &&
      ms(r.event_time) === s.event_time;
    if (same) resent++;
    else conflicts.push({ line: l, first });
  }
  return { conflicts, resent, stored };
}

/** Inserts the transactions that expect settlement, once each (a duplicate delivery inserts nothing). */
async function storeItems(conn: PoolConnection, items: readonly PositionedTransaction[]): Promise<number> {
  if (items.length === 0) return 0;
  const [res] = await conn.query(
    'INSERT IGNORE INTO recon_items (transaction_id, reference, type, amount_minor, currency, event_time, src_topic, src_partition, src_offset) VALUES ?',
    [
      items.map(({ tx, position: p }) => [
        tx.transaction_id,
        tx.reference ?? tx.transaction_id,
        tx.type,
        tx.amount_minor,
        tx.currency,
        new Date(tx.event_time),
        p.topic,
        p.partition,
        p.offset,
      ]),
    ],
  );
  return (res as { affectedRows: number }).affectedRows;
}

/** Records which transactions captures and reversals supersede; returns the references of those already stored. */
async function storeSupersessions(conn: PoolConnection, list: ReconBatch['supersessions']): Promise<string[]> {
  if (list.length === 0) return [];
  await conn.query('INSERT IGNORE INTO recon_supersessions (child_transaction_id, parent_transaction_id, type) VALUES ?', [
    list.map((x) => [x.child, x.parent, x.type]),
  ]);
  const [rows] = await conn.query<Row[]>('SELECT DISTINCT reference FROM recon_items WHERE transaction_id IN (?)', [
    [...new Set(list.map((x) => x.parent))],
  ]);
  return rows.map((r) => String(r.reference));
}

/** Recomputes the groups of `refs` and stores what changed; returns changes by new status. */
async function recompute(
  conn: PoolConnection,
  refs: readonly string[],
  watermark: number | null,
  b: ReconBatch,
): Promise<Partial<Record<ReconStatus, number>>> {
  const [[itemRows], [lineRows], [resultRows]] = await Promise.all([
    conn.query<Row[]>(
      `SELECT i.transaction_id, i.reference, i.amount_minor, i.currency, i.event_time,
              EXISTS (SELECT 1 FROM recon_supersessions s WHERE s.parent_transaction_id = i.transaction_id) AS superseded
         FROM recon_items i WHERE i.reference IN (?) ORDER BY i.transaction_id`,
      [refs],
    ),
    conn.query<Row[]>(
      'SELECT settlement_id, transaction_reference, amount_minor, currency, event_time, settlement_date FROM settlements WHERE transaction_reference IN (?) ORDER BY settlement_id',
      [refs],
    ),
    conn.query<Row[]>('SELECT * FROM recon_results WHERE reference IN (?)', [refs]),
  ]);
  const items = new Map<string, ExpectedItem[]>();
  for (const r of itemRows) {
    const list = items.get(String(r.reference)) ?? [];
    list.push({
      transactionId: String(r.transaction_id),
      amountMinor: big(r.amount_minor),
      currency: String(r.currency),
      eventTime: ms(r.event_time),
      superseded: Number(r.superseded) === 1,
    });
    items.set(String(r.reference), list);
  }
  const lines = new Map<string, SettledLine[]>();
  for (const r of lineRows) {
    const list = lines.get(String(r.transaction_reference)) ?? [];
    list.push({
      settlementId: String(r.settlement_id),
      amountMinor: big(r.amount_minor),
      currency: String(r.currency),
      eventTime: ms(r.event_time),
      settlementDate: Math.round(ms(r.settlement_date) / DAY_MS),
    });
    lines.set(String(r.transaction_reference), list);
  }
  const stored = new Map(resultRows.map((r) => [String(r.reference), storedResult(r)]));

  const rows: StoredResult[] = [];
  const events: ReconEventPayload[] = [];
  const counts: Partial<Record<ReconStatus, number>> = {};
  const wm = watermark ?? Number.NEGATIVE_INFINITY;
  for (const ref of refs) {
    const groupItems = items.get(ref) ?? [];
    const groupLines = lines.get(ref) ?? [];
    if (groupItems.length === 0 && groupLines.length === 0) continue;
    const outcome = reconcileGroup(groupItems, groupLines, wm, b.policy);
    const change = groupChange(
      ref,
      stored.get(ref) ?? null,
      outcome,
      { transactionIds: groupItems.map((i) => i.transactionId), settlementIds: groupLines.map((l) => l.settlementId) },
      watermark ?? 0,
      b.now,
    );
    if (!change) continue;
    rows.push(change.row);
    counts[change.row.status] = (counts[change.row.status] ?? 0) + 1;
    if (change.event) events.push(change.event);
  }
  if (rows.length > 0)
    await conn.query(
      `INSERT INTO recon_results (reference, status, reason, expected_minor, settled_minor, currency, transactions, settlement_lines,
         business_date, deadline, revision, exception_since, updated_at) VALUES ?
       ON DUPLICATE KEY UPDATE status = VALUES(status), reason = VALUES(reason), expected_minor = VALUES(expected_minor),
         settled_minor = VALUES(settled_minor), currency = VALUES(currency), transactions = VALUES(transactions),
         settlement_lines = VALUES(settlement_lines), business_date = VALUES(business_date), deadline = VALUES(deadline),
         revision = VALUES(revision), exception_since = VALUES(exception_since), updated_at = VALUES(updated_at)`,
      [
        rows.map((r) => [
          r.reference,
          r.status,
          r.reason,
          r.expectedMinor === null ? null : r.expectedMinor.toString(),
          r.settledMinor.toString(),
          r.currency,
          r.transactions,
          r.settlementLines,
          isoDate(r.businessDate),
          new Date(r.deadline),
          r.revision,
          r.exceptionSince === null ? null : new Date(r.exceptionSince),
          new Date(b.now),
        ]),
      ],
    );
  if (events.length > 0)
    await conn.query(
      'INSERT INTO recon_events (exception_id, reference, revision, status, payload, src_topic, src_partition, src_offset, created_at) VALUES ?',
      [
        events.map((e) => [
          e.exception_id,
          e.transaction_reference,
          e.revision,
          e.status,
          JSON.stringify(e),
          b.source.topic,
          b.source.partition,
          b.source.lastOffset,
          new Date(b.now),
        ]),
      ],
    );
  return counts;
}

function storedResult(r: Row): StoredResult {
  return {
    reference: String(r.reference),
    status: String(r.status) as ReconStatus,
    reason: String(r.reason),
    expectedMinor: r.expected_minor == null ? null : big(r.expected_minor),
    settledMinor: big(r.settled_minor),
    currency: String(r.currency),
    transactions: Number(r.transactions),
    settlementLines: Number(r.settlement_lines),
    businessDate: Math.round(ms(r.business_date) / DAY_MS),
    deadline: ms(r.deadline),
    revision: Number(r.revision),
    exceptionSince: r.exception_since == null ? null : ms(r.exception_since),
  };
}
