/** The readiness check's MySQL query. */
import type { Pool } from '../../platform/mysql.ts';

/** Resolves when MySQL answers a query on a pooled connection. */
export async function pingMysql(pool: Pool): Promise<void> {
  await pool.query('SELECT 1');
}
