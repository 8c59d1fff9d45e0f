/** The append-only audit log (migration 006): model changes, training runs, analyst and finance actions, API keys. */
import type { PoolConnection } from 'mysql2/promise';

/**
 * Appends one entry, inside the caller's transaction (so the change and its record commit together).
 * `clientAddr` is the address of the HTTP client that asked for the change (migration 011); null for
 * the command line and the processors.
 */
export async function audit(
  conn: PoolConnection,
  actor: string,
  action: string,
  subject: string,
  detail: unknown,
  clientAddr: string | null = null,
): Promise<void> {
  await conn.query('INSERT INTO audit_log (at, actor, client_addr, action, subject, detail) VALUES (NOW(3), ?, ?, ?, ?, ?)', [
    actor,
    clientAddr,
    action,
    subject,
    JSON.stringify(detail),
  ]);
}
