/** Read side of reconciliation: the report by day/status/currency, the exceptions list, and the gauges. */
import type { RowDataPacket } from 'mysql2/promise';
import { EXCEPTION_STATUSES, RECON_STATUSES, type ReconStatus } from '../reconciliation/match.ts';
import type { Pool } from '../platform/mysql.ts';

type Row = RowDataPacket & Record<string, unknown>;
const EXCEPTIONS = [...EXCEPTION_STATUSES];

/** A resolution closes the revision it was made on; a group that changed since is open again. */
export const OPEN_SQL = '(resolution IS NULL OR resolved_revision < revision)';
/** The resolution of the group's current revision, or NULL. */
export const CURRENT_RESOLUTION_SQL = 'CASE WHEN resolved_revision = revision THEN resolution END';

export interface ReportLine {
  status: ReconStatus;
  currency: string;
  groups: number;
  /** Sums in minor units, as exact decimal strings. */
  expectedMinor: string;
  settledMinor: string;
}

/** Groups, expected and settled sums per status and currency, for one business date (YYYY-MM-DD) or all. */
export async function reconReport(pool: Pool, date: string | null): Promise<ReportLine[]> {
  const [rows] = await pool.query<Row[]>(
    `SELECT status, currency, COUNT(*) AS n, CAST(COALESCE(SUM(expected_minor), 0) AS CHAR) AS expected,
            CAST(COALESCE(SUM(settled_minor), 0) AS CHAR) AS settled
       FROM recon_results ${date === null ? '' : 'WHERE business_date = ?'}
      GROUP BY status, currency`,
    date === null ? [] : [date],
  );
  const order = (s: string) => RECON_STATUSES.indexOf(s as ReconStatus);
  return rows
    .map((r) => ({
      status: String(r.status) as ReconStatus,
      currency: String(r.currency),
      groups: Number(r.n),
      expectedMinor: String(r.expected),
      settledMinor: String(r.settled),
    }))
    .sort((a, b) => order(a.status) - order(b.status) || a.currency.localeCompare(b.currency));
}

export interface ExceptionRow {
  reference: string;
  status: ReconStatus;
  reason: string;
  currency: string;
  expectedMinor: string | null;
  settledMinor: string;
  transactionIds: string[];
  settlementIds: string[];
  businessDate: string;
  deadline: string;
  exceptionSince: string | null;
  revision: number;
  resolution: string | null;
}

/** Every exception of a business date (or all), with the transactions and lines of each group. */
export async function reconExceptions(pool: Pool, date: string | null): Promise<ExceptionRow[]> {
  const [rows] = await pool.query<Row[]>(
    `SELECT reference, status, reason, currency, CAST(expected_minor AS CHAR) AS expected, CAST(settled_minor AS CHAR) AS settled,
            DATE_FORMAT(business_date, '%Y-%m-%d') AS business_date, deadline, exception_since, revision, ${CURRENT_RESOLUTION_SQL} AS resolution
       FROM recon_results WHERE status IN (?) ${date === null ? '' : 'AND business_date = ?'}
      ORDER BY business_date, status, reference`,
    date === null ? [EXCEPTIONS] : [EXCEPTIONS, date],
  );
  const refs = rows.map((r) => String(r.reference));
  const txs = new Map<string, string[]>();
  const lines = new Map<string, string[]>();
  for (let i = 0; i < refs.length; i += 2_000) {
    const chunk = refs.slice(i, i + 2_000);
    const [t] = await pool.query<Row[]>(
      'SELECT reference, transaction_id FROM recon_items WHERE reference IN (?) ORDER BY transaction_id',
      [chunk],
    );
    for (const r of t) txs.set(String(r.reference), [...(txs.get(String(r.reference)) ?? []), String(r.transaction_id)]);
    const [s] = await pool.query<Row[]>(
      'SELECT transaction_reference, settlement_id FROM settlements WHERE transaction_reference IN (?) ORDER BY settlement_id',
      [chunk],
    );
    for (const r of s)
      lines.set(String(r.transaction_reference), [
        ...(lines.get(String(r.transaction_reference)) ?? []),
        String(r.settlement_id),
      ]);
  }
  const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : v == null ? null : String(v));
  return rows.map((r) => ({
    reference: String(r.reference),
    status: String(r.status) as ReconStatus,
    reason: String(r.reason),
    currency: String(r.currency),
    expectedMinor: r.expected == null ? null : String(r.expected),
    settledMinor: String(r.settled),
    transactionIds: txs.get(String(r.reference)) ?? [],
    settlementIds: lines.get(String(r.reference)) ?? [],
    businessDate: String(r.business_date),
    deadline: iso(r.deadline) ?? '',
    exceptionSince: iso(r.exception_since),
    revision: Number(r.revision),
    resolution: r.resolution == null ? null : String(r.resolution),
  }));
}

/** The processor's gauges: unresolved groups by status, matched share of decided groups, oldest open exception. */
export async function reconGauges(
  pool: Pool,
  groupId: string,
  allowedLatenessMs: number,
): Promise<{ open: Partial<Record<ReconStatus, number>>; matchedRatio: number; oldestOpenExceptionAgeSeconds: number }> {
  const [byStatus] = await pool.query<Row[]>(
    `SELECT status, ${OPEN_SQL} AS open, COUNT(*) AS n FROM recon_results GROUP BY status, ${OPEN_SQL}`,
  );
  const open: Partial<Record<ReconStatus, number>> = {};
  let decided = 0;
  let matched = 0;
  for (const r of byStatus) {
    const status = String(r.status) as ReconStatus;
    const n = Number(r.n);
    if (Number(r.open) === 1) open[status] = (open[status] ?? 0) + n;
    if (status !== 'PENDING') decided += n;
    if (status === 'MATCHED' || status === 'LATE_MATCH') matched += n;
  }
  const [[oldest]] = await pool.query<Row[]>(
    `SELECT MIN(deadline) AS deadline FROM recon_results WHERE ${OPEN_SQL} AND status IN (?)`,
    [EXCEPTIONS.filter((s) => s !== 'LATE_MATCH')],
  );
  const [[progress]] = await pool.query<Row[]>('SELECT max_settlement_time FROM recon_progress WHERE group_id = ?', [groupId]);
  const watermark =
    progress?.max_settlement_time instanceof Date ? progress.max_settlement_time.getTime() - allowedLatenessMs : null;
  const age =
    oldest?.deadline instanceof Date && watermark !== null ? Math.max(0, (watermark - oldest.deadline.getTime()) / 1000) : 0;
  return { open, matchedRatio: decided === 0 ? 1 : matched / decided, oldestOpenExceptionAgeSeconds: age };
}
