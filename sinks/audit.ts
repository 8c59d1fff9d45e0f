/** The append-only audit log (migration 006): model changes, training runs, analyst and finance actions. */
import type { PoolConnection } from 'mysql2/promise';

/** Appends one entry, inside the caller's transaction (so the change and its record commit together). */
export async function audit(
  conn: PoolConnection,
  actor: string,
  action: string,
  subject: string,
  detail: unknown,
): Promise<void> {
  await conn.query('INSERT INTO audit_log (at, actor, action, subject, detail) VALUES (NOW(3), ?, ?, ?, ?)', [
    actor,
    action,
    subject,
    JSON.stringify(detail),
  ]);
}
