// Every pooled MySQL session runs in UTC, so the server's NOW(3) and column defaults agree with the
// DATETIME values txmon writes and reads as UTC, whatever the server's own time zone.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RowDataPacket } from 'mysql2/promise';
import { createPool, rollbackOrDestroy, SESSION_SETTINGS, type Pool } from '../../platform/mysql.ts';
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
          'SELECT @@session.time_zone AS tz, @@session.sql_mode AS mode, UNIX_TIMESTAMP(NOW(3)) AS now_s, NOW(3) AS now_dt',
        );
        return r;
      } finally {
        conn.release();
      }
    }),
  );
  for (const r of rows) {
    expect(r?.tz).toBe('+00:00');
    expect(String(r?.mode)).not.toContain('NO_BACKSLASH_ESCAPES');
    // NOW(3) read back as UTC is the same instant as the server's epoch time.
    expect(Math.abs((r?.now_dt as Date).getTime() / 1000 - Number(r?.now_s))).toBeLessThan(1);
  }
});

it('a session whose server set NO_BACKSLASH_ESCAPES reads a backslash as an escape again, its other modes kept', async () => {
  const conn = await pool.getConnection();
  try {
    await conn.query("SET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES,STRICT_TRANS_TABLES,ANSI_QUOTES'");
    // A quote escaped as mysql2 escapes it would end the string here.
    await expect(conn.query("SELECT 'it\\'s' AS v")).rejects.toThrow();
    await conn.query(SESSION_SETTINGS);
    const [[r]] = await conn.query<RowDataPacket[]>("SELECT @@session.sql_mode AS mode, 'it\\'s' AS v");
    expect(r?.v).toBe("it's");
    expect(String(r?.mode).split(',').sort()).toEqual(['ANSI_QUOTES', 'STRICT_TRANS_TABLES']);
  } finally {
    // Not back to the pool with this session's modes.
    conn.destroy();
    conn.release();
  }
});

it('a connection whose rollback failed is destroyed: its open transaction is rolled back, not committed by the next BEGIN on it', async () => {
  // One connection: what the next caller gets is that connection again unless it was destroyed.
  const one = createPool(ns.cfg, { connectionLimit: 1 });
  try {
    const setup = await one.getConnection();
    await setup.query('CREATE TABLE IF NOT EXISTS rollback_probe (id INT PRIMARY KEY)');
    const [first] = await setup.query<RowDataPacket[]>('SELECT CONNECTION_ID() AS id');
    const firstId = Number(first[0]?.id);
    await setup.beginTransaction();
    await setup.query('INSERT INTO rollback_probe VALUES (1)');
    // The rollback fails while the session and its transaction are still open (as a timeout would).
    await rollbackOrDestroy({ rollback: () => Promise.reject(new Error('rollback timed out')), destroy: () => setup.destroy() });
    setup.release();
    const next = await one.getConnection();
    try {
      const [again] = await next.query<RowDataPacket[]>('SELECT CONNECTION_ID() AS id');
      const nextId = Number(again[0]?.id);
      expect(nextId).not.toBe(firstId);
      // A BEGIN and COMMIT here would have committed the insert on the old connection (an implicit commit).
      await next.beginTransaction();
      await next.commit();
      const [count] = await next.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM rollback_probe');
      expect(Number(count[0]?.n)).toBe(0);
    } finally {
      next.release();
    }
  } finally {
    await one.end();
  }
});
