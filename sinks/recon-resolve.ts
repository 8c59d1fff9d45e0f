/**
 * The one way an exception leaves the open list: RESOLVED (fixed, e.g. the bank re-sent the line) or
 * ACCEPTED (written off, e.g. a fee difference), by a named actor, recorded in the audit log in the
 * same transaction. The reconcile processor never sets or clears a resolution.
 */
import type { RowDataPacket } from 'mysql2/promise';
import { InputError } from '../platform/errors.ts';
import type { Pool } from '../platform/mysql.ts';
import { EXCEPTION_STATUSES, type ReconStatus } from '../reconciliation/match.ts';
import { audit } from './audit.ts';

export type Resolution = 'RESOLVED' | 'ACCEPTED';

export interface ResolvedException {
  reference: string;
  status: ReconStatus;
  revision: number;
  resolution: Resolution;
  actor: string;
}

/** Resolves or accepts one open exception; refuses anything else with a clear InputError. */
export async function resolveException(
  pool: Pool,
  reference: string,
  resolution: Resolution,
  actor: string,
  note: string | null,
): Promise<ResolvedException> {
  if (!/^\S.{0,127}$/.test(actor)) throw new InputError('the actor must be 1-128 characters, not starting with a space');
  if (note !== null && note.length > 1_000) throw new InputError('the note must be at most 1,000 characters');
  const conn = await pool.getConnection();
  try {
    await conn.beginTransaction();
    const [[row]] = await conn.query<RowDataPacket[]>(
      'SELECT status, revision, resolution, resolved_by, resolved_at FROM recon_results WHERE reference = ? FOR UPDATE',
      [reference],
    );
    if (!row) throw new InputError(`no reconciliation result for reference ${JSON.stringify(reference)}`);
    const status = String(row.status) as ReconStatus;
    if (!EXCEPTION_STATUSES.has(status))
      throw new InputError(`reference ${reference} is ${status}; only exceptions are resolved or accepted`);
    if (row.resolution !== null)
      throw new InputError(
        `reference ${reference} was already ${String(row.resolution)} by ${String(row.resolved_by)} at ${(row.resolved_at as Date).toISOString()}`,
      );
    await conn.query('UPDATE recon_results SET resolution = ?, resolved_by = ?, resolved_at = NOW(3) WHERE reference = ?', [
      resolution,
      actor,
      reference,
    ]);
    const revision = Number(row.revision);
    await audit(conn, actor, `recon.${resolution.toLowerCase()}`, `recon:${reference}`, { status, revision, note });
    await conn.commit();
    return { reference, status, revision, resolution, actor };
  } catch (err) {
    await conn.rollback().catch(() => {});
    throw err;
  } finally {
    conn.release();
  }
}
