/**
 * Reads the feature snapshots of stored transactions (and their labels, where known) from MySQL,
 * page by page in id order, for training and evaluation.
 */
import type { RowDataPacket } from 'mysql2/promise';
import type { StoredDecision } from '../detection/backtest.ts';
import type { DecisionKind } from '../detection/decide.ts';
import { FeatureSpace } from '../detection/features.ts';
import type { RuleTxField } from '../detection/rules.ts';
import { vectorSource, type FeatureSource } from '../domain/snapshot.ts';
import { InputError } from '../platform/errors.ts';
import type { Pool } from '../platform/mysql.ts';
import { FeatureDecoder } from '../sinks/feature-vector.ts';

export interface HistoryRange {
  from: Date;
  to: Date;
}

export interface HistoryRow {
  transactionId: string;
  accountId: string;
  eventTime: number;
  amountMinor: number;
  currency: string;
  /** The stored feature vector, read in place (by slot for readers that map their names once). */
  snapshot: FeatureSource;
  tx: Record<RuleTxField, unknown>;
  /** The decision stored with it; null for a row stored before decisions were. */
  stored: StoredDecision | null;
  /** true: fraud, false: legitimate, null: no label. */
  label: boolean | null;
}

const PAGE = 5_000;
const EMPTY = vectorSource([], []);

/** The event-time range of the stored transactions that have a snapshot; null when there are none. */
export async function storedRange(pool: Pool): Promise<HistoryRange | null> {
  const [rows] = await pool.query<RowDataPacket[]>(
    'SELECT MIN(event_time) AS lo, MAX(event_time) AS hi FROM transactions WHERE feature_layout IS NOT NULL',
  );
  const lo = rows[0]?.lo as Date | null;
  const hi = rows[0]?.hi as Date | null;
  return lo && hi ? { from: lo, to: new Date(hi.getTime() + 1) } : null;
}

/** The latest DATETIME MySQL stores: an open end of a range. */
export const END_OF_TIME = new Date('9999-12-31T23:59:59.999Z');

/** The range of `--from` and `--to` (either open), or undefined when neither is given: everything stored. */
export function rangeOption(from: string | undefined, to: string | undefined): HistoryRange | undefined {
  if (from === undefined && to === undefined) return undefined;
  const range = {
    from: from === undefined ? new Date(0) : parseTime('--from', from),
    to: to === undefined ? END_OF_TIME : parseTime('--to', to),
  };
  if (range.from >= range.to) throw new InputError('--from must be before --to');
  return range;
}

/** Parses an ISO-8601 time given on the command line. */
export function parseTime(what: string, s: string): Date {
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw new InputError(`${what}: not an ISO-8601 time: ${JSON.stringify(s)}`);
  return new Date(t);
}

/**
 * Calls `onRow` for every transaction with a snapshot and event time in [from, to), in id order;
 * `progress` is told the running count after every page.
 */
export async function readHistory(
  pool: Pool,
  range: HistoryRange,
  onRow: (row: HistoryRow) => void,
  progress: (rows: number) => void = () => {},
): Promise<number> {
  let after = 0;
  let total = 0;
  const decoder = new FeatureDecoder(pool);
  for (;;) {
    const [rows] = await pool.query<RowDataPacket[]>(
      `SELECT t.id, t.transaction_id, t.event_time, t.feature_layout, t.feature_values, t.amount_minor, t.currency, t.mcc, t.channel, t.type,
              t.account_id, t.merchant_id, t.merchant_country, t.ip_country, t.device_id, l.label,
              t.decision, t.risk_score, t.model_version, t.ruleset_version
       FROM transactions t LEFT JOIN labels l ON l.transaction_id = t.transaction_id
       WHERE t.id > ? AND t.event_time >= ? AND t.event_time < ? AND t.feature_layout IS NOT NULL
       ORDER BY t.id LIMIT ?`,
      [after, range.from, range.to, PAGE],
    );
    const features = await decoder.decodeRows(rows);
    rows.forEach((r, i) => {
      const f = features[i];
      const amountMinor = Number(r.amount_minor);
      onRow({
        transactionId: r.transaction_id as string,
        accountId: r.account_id as string,
        eventTime: (r.event_time as Date).getTime(),
        amountMinor,
        currency: r.currency as string,
        snapshot: f ? vectorSource(f.names, f.values) : EMPTY,
        stored:
          r.decision === null
            ? null
            : {
                decision: r.decision as DecisionKind,
                riskScore: Number(r.risk_score),
                modelVersion: (r.model_version as string | null) ?? null,
                rulesetVersion: r.ruleset_version as string,
              },
        tx: {
          amount_minor: amountMinor,
          currency: r.currency,
          mcc: r.mcc,
          channel: r.channel,
          type: r.type,
          account_id: r.account_id,
          merchant_id: r.merchant_id,
          merchant_country: r.merchant_country,
          ip_country: r.ip_country,
          device_id: r.device_id,
          card_bin: null,
        },
        label: r.label === null || r.label === undefined ? null : r.label === 'fraud',
      });
    });
    total += rows.length;
    progress(total);
    if (rows.length < PAGE) return total;
    after = Number(rows[rows.length - 1]?.id);
  }
}

/** Growable row-major matrix of a feature space's vectors. */
export class MatrixBuilder {
  private data: Float64Array;
  rows = 0;

  constructor(readonly space: FeatureSpace) {
    this.data = new Float64Array(space.names.length * 1024);
  }

  add(snapshot: FeatureSource): void {
    const cols = this.space.names.length;
    if ((this.rows + 1) * cols > this.data.length) {
      const next = new Float64Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.space.fromSource(snapshot, this.data.subarray(this.rows * cols, (this.rows + 1) * cols));
    this.rows++;
  }

  matrix(): { rows: number; cols: number; data: Float64Array } {
    const cols = this.space.names.length;
    return { rows: this.rows, cols, data: this.data.subarray(0, this.rows * cols) };
  }
}
