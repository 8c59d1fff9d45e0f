/**
 * The one way an exception leaves the open list: RESOLVED (fixed, e.g. the bank re-sent the line) or
 * ACCEPTED (written off, e.g. a fee difference), by a named actor, recorded in the audit log in the
 * same transaction. The reconcile processor never sets or clears a resolution; a resolution closes
 * the revision it was made on, so a group that changes afterwards is an open exception again.
 */
import type { RowDataPacket } from 'mysql2/promise';
import { InputError } from '../platform/errors.ts';
import { rollbackOrDestroy, type Pool } from '../platform/mysql.ts';
import { EXCEPTION_STATUSES, type ReconStatus } from '../reconciliation/match.ts';
import { audit } from './audit.ts';

export type Resolution = 'RESOLVED' | 'ACCEPTED';

/** The reference has no reconciliation result at all. */
export class NoSuchResultError extends InputError {}

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
  /** The revision the caller looked at; refused when the group has changed since. */
  expectedRevision?: number,
  /** The HTTP client's address, for the audit log (null from the command line). */
  clientAddr: string | null = null,
): Promise<ResolvedException> {
  if (!/^\S.{0,127}$/.test(actor)) throw new InputError('the actor must be 1-128 characters, not starting with a space');
  if (note !== null && note.length > 1_000) throw new InputError('the note must be at most 1,000 characters');
  const conn = await pool.getConnection();
  try {
    await conn.beginTransaction();
    const [[row]] = await conn.query<RowDataPacket[]>(
      'SELECT status, revision, resolution, resolved_revision, resolved_by, resolved_at FROM recon_results WHERE reference = ? FOR UPDATE',
      [reference],
    );
    if (!row) throw new NoSuchResultError(`no reconciliation result for reference ${JSON.stringify(reference)}`);
    const status = String(row.status) as ReconStatus;
    if (!EXCEPTION_STATUSES.has(status))
      throw new InputError(`reference ${reference} is ${status}; only exceptions are resolved or accepted`);
    const revision = Number(row.revision);
    if (expectedRevision !== undefined && expectedRevision !== revision)
      throw new InputError(
        `reference ${reference} is at revision ${revision}, not ${expectedRevision}: look at it again before closing it`,
      );
    // A resolution closes one revision: a group that changed since is open again.
    if (row.resolution !== null && Number(row.resolved_revision) === revision)
      throw new InputError(
        `reference ${reference} was already ${String(row.resolution)} by ${String(row.resolved_by)} at ${(row.resolved_at as Date).toISOString()}`,
      );
    await conn.query(
      'UPDATE recon_results SET resolution = ?, resolved_revision = revision, resolved_by = ?, resolved_at = UTC_TIMESTAMP(3) WHERE reference = ?',
      [resolution, actor, reference],
    );
    await audit(conn, actor, `recon.${resolution.toLowerCase()}`, `recon:${reference}`, { status, revision, note }, clientAddr);
    await conn.commit();
    return { reference, status, revision, resolution, actor };
  } catch (err) {
    await rollbackOrDestroy(conn);
    throw err;
  } finally {
    conn.release();
  }
}
