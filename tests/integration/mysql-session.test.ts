// Every pooled MySQL session runs in UTC, so the server's NOW(3) and column defaults agree with the
// DATETIME values txmon writes and reads as UTC, whatever the server's own time zone.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RowDataPacket } from 'mysql2/promise';
import { createPool, type Pool } from '../../platform/mysql.ts';
import { createNamespace, type TestNamespace } from '../helpers/namespace.ts';

let ns: TestNamespace;
let pool: Pool;
beforeAll(async () => {
  ns = await createNamespace();
  pool = createPool(ns.cfg, { connectionLimit: 3 });
});
afterAll(async () => {
  await pool?.end();
  await ns?.cleanup();
});

it('pooled sessions are in UTC, on every connection', async () => {
  // Three at once: three connections of the pool.
  const rows = await Promise.all(
    [1, 2, 3].map(async () => {
      const conn = await pool.getConnection();
      try {
        const [[r]] = await conn.query<RowDataPacket[]>(
          'SELECT @@session.time_zone AS tz, UNIX_TIMESTAMP(NOW(3)) AS now_s, NOW(3) AS now_dt',
        );
        return r;
      } finally {
        conn.release();
      }
    }),
  );
  for (const r of rows) {
    expect(r?.tz).toBe('+00:00');
    // NOW(3) read back as UTC is the same instant as the server's epoch time.
    expect(Math.abs((r?.now_dt as Date).getTime() / 1000 - Number(r?.now_s))).toBeLessThan(1);
  }
});
