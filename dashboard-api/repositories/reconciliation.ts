/** Reconciliation's exceptions in MySQL, a page at a time (the summary is sinks/recon-report.ts, which the CLI shares). */
import type { RowDataPacket } from 'mysql2/promise';
import type { Pool } from '../../platform/mysql.ts';
import { EXCEPTION_STATUSES } from '../../reconciliation/match.ts';
import { CURRENT_RESOLUTION_SQL, OPEN_SQL } from '../../sinks/recon-report.ts';
import { decodeCursor, encodeCursor } from '../cursor.ts';
import type { ExceptionItemT, ExceptionsQueryT } from '../schemas/reconciliation.ts';

type Row = RowDataPacket & Record<string, unknown>;

/** MariaDB stops an exceptions page past this: exceptions are rare among results, and a page without a date may scan many. */
const EXCEPTIONS_MAX_SECONDS = 5;

/** A page of exceptions by reference, with the filters of the query; `next` is the cursor of the page after it. */
export async function exceptionsPage(pool: Pool, q: ExceptionsQueryT): Promise<{ items: ExceptionItemT[]; next: string | null }> {
  const where = ['status IN (?)'];
  const args: unknown[] = [q.status ? [q.status] : [...EXCEPTION_STATUSES]];
  const add = (clause: string, ...values: unknown[]) => {
    where.push(clause);
    args.push(...values);
  };
  if (q.date) add('business_date = ?', q.date);
  if (q.open !== undefined) where.push(q.open ? OPEN_SQL : `NOT ${OPEN_SQL}`);
  if (q.cursor) add('reference > ?', decodeCursor(q.cursor, ['string'])[0]);
  const limit = q.limit ?? 50;
  const [rows] = await pool.query<Row[]>(
    `SET STATEMENT max_statement_time = ${EXCEPTIONS_MAX_SECONDS} FOR
     SELECT reference, status, reason, currency, CAST(expected_minor AS CHAR) AS expected, CAST(settled_minor AS CHAR) AS settled,
            transactions, settlement_lines, DATE_FORMAT(business_date, '%Y-%m-%d') AS business_date, deadline, revision, ${CURRENT_RESOLUTION_SQL} AS resolution, resolved_by
       FROM recon_results WHERE ${where.join(' AND ')} ORDER BY reference LIMIT ?`,
    [...args, limit + 1],
  );
  const items = rows.slice(0, limit).map((r) => ({
    reference: String(r.reference),
    status: String(r.status),
    reason: String(r.reason),
    currency: String(r.currency),
    expected_minor: r.expected == null ? null : String(r.expected),
    settled_minor: String(r.settled),
    transactions: Number(r.transactions),
    settlement_lines: Number(r.settlement_lines),
    revision: Number(r.revision),
    business_date: String(r.business_date),
    deadline: (r.deadline as Date).toISOString(),
    resolution: r.resolution == null ? null : String(r.resolution),
    resolved_by: r.resolved_by == null ? null : String(r.resolved_by),
  }));
  return { items, next: rows.length > limit ? encodeCursor([String(rows[limit - 1]?.reference)]) : null };
}
