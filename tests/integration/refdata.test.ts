// `txmon refdata load` against the real MariaDB: good rows upserted, bad lines reported by number.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, type Pool } from '../../platform/mysql.ts';
import { loadCsv } from '../../refdata/load.ts';
import { createNamespace, type TestNamespace } from '../helpers/namespace.ts';

let ns: TestNamespace;
let pool: Pool;
const dir = mkdtempSync(join(tmpdir(), 'txmon-refdata-'));

beforeAll(async () => {
  ns = await createNamespace();
  pool = createPool(ns.cfg);
});
afterAll(async () => {
  await pool?.end();
  await ns?.cleanup();
});

describe('refdata load', () => {
  it('upserts valid rows, reports bad lines with their numbers, and is idempotent', async () => {
    const file = join(dir, 'accounts.csv');
    writeFileSync(
      file,
      [
        'account_id,opened_at,home_country,risk_tier,time_zone',
        'acc-1,2025-03-01T00:00:00Z,GB,LOW,Europe/London',
        'acc-2,2025-04-01,DE,HIGH,Europe/Berlin',
        'acc-3,not-a-date,FR,LOW,Europe/Paris',
        'acc-4,2025-04-01,usa,MEDIUM,Mars/Olympus',
      ].join('\n'),
    );
    const first = await loadCsv(pool, 'accounts', file);
    expect(first.rows).toBe(4);
    expect(first.upserted).toBe(2);
    expect(first.problems.map((p) => p.line)).toEqual([4, 5]);
    expect(first.problems[1]?.message).toMatch(/home_country.*time_zone|time_zone.*home_country/s);
    await loadCsv(pool, 'accounts', file); // re-import: no duplicates
    const [rows] = await pool.query<RowDataPacket[]>(
      'SELECT account_id, home_country, time_zone FROM ref_accounts ORDER BY account_id',
    );
    expect(rows.map((r) => [r.account_id, r.home_country, r.time_zone])).toEqual([
      ['acc-1', 'GB', 'Europe/London'],
      ['acc-2', 'DE', 'Europe/Berlin'],
    ]);
  });

  it('keeps FX rates exact (decimal, not float)', async () => {
    const file = join(dir, 'fx.csv');
    writeFileSync(
      file,
      ['currency,base_currency,valid_from,rate', 'EUR,USD,2026-01-01,1.0834512345', 'JPY,USD,2026-01-01,1e-3'].join('\n'),
    );
    const r = await loadCsv(pool, 'fx', file);
    expect(r.upserted).toBe(1);
    expect(r.problems).toHaveLength(1);
    const [rows] = await pool.query<RowDataPacket[]>(
      "SELECT CAST(rate AS CHAR) AS rate FROM ref_fx_rates WHERE currency = 'EUR'",
    );
    expect(rows[0]?.rate).toBe('1.0834512345');
  });
});

describe('refdata cache', () => {
  it('fills from MySQL in one prefetch, remembers misses, and sees reloaded data after its TTL', async () => {
    const { RefdataCache } = await import('../../refdata/cache.ts');
    const cache = new RefdataCache(pool, { ttlMs: 300 });
    await cache.prefetch({ accounts: ['acc-1', 'acc-404'], merchants: [], fxPairs: [['EUR', 'USD']] });
    expect(cache.account('acc-1')).toMatchObject({ homeCountry: 'GB', riskTier: 'LOW', timeZone: 'Europe/London' });
    expect(cache.account('acc-404')).toBeUndefined();
    expect(cache.fxRate('EUR', 'USD', Date.parse('2026-02-01'))).toBe('1.0834512345');
    expect(cache.fxRate('EUR', 'USD', Date.parse('2025-12-31'))).toBeUndefined();

    await pool.query("UPDATE ref_accounts SET risk_tier = 'HIGH' WHERE account_id = 'acc-1'");
    await cache.prefetch({ accounts: ['acc-1'], merchants: [], fxPairs: [] });
    expect(cache.account('acc-1')?.riskTier).toBe('LOW'); // still cached
    await new Promise((r) => setTimeout(r, 400));
    await cache.prefetch({ accounts: ['acc-1'], merchants: [], fxPairs: [] });
    expect(cache.account('acc-1')?.riskTier).toBe('HIGH'); // refreshed without a restart
  });
});
