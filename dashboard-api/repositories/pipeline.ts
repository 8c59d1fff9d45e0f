/** The pipeline view's counts from MySQL: transactions stored, stored late, duplicates recorded. */
import type { RowDataPacket } from 'mysql2/promise';
import type { Pool } from '../../platform/mysql.ts';

export interface TransactionCounts {
  stored: number;
  late: number;
  duplicates: number;
}

/** Full counts (table scans): MariaDB stops the statement past `maxSeconds` (max_statement_time). */
export async function transactionCounts(pool: Pool, maxSeconds: number): Promise<TransactionCounts> {
  const [[t]] = await pool.query<RowDataPacket[]>(
    `SET STATEMENT max_statement_time = ${Math.trunc(maxSeconds)} FOR
     SELECT (SELECT COUNT(*) FROM transactions) AS stored, (SELECT COUNT(*) FROM transactions WHERE late) AS late,
            (SELECT COUNT(*) FROM transaction_duplicates) AS duplicates`,
  );
  return { stored: Number(t?.stored), late: Number(t?.late), duplicates: Number(t?.duplicates) };
}
