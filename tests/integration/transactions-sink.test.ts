// The MySQL sink against the real MariaDB: feature snapshots stored byte-exact, whether they go in
// as raw literals (the fast path) or escaped (text a single-quoted literal must escape).
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleTransaction } from '../../domain/transaction.fixture.ts';
import { createPool, type Pool } from '../../platform/mysql.ts';
import { writeBatch, type PositionedTransaction } from '../../sinks/transactions.sink.ts';
import { createNamespace, type TestNamespace } from '../helpers/namespace.ts';

let ns: TestNamespace;
let pool: Pool;

beforeAll(async () => {
  ns = await createNamespace();
  pool = createPool(ns.cfg);
});

afterAll(async () => {
  await pool.end();
  await ns.cleanup();
});

function positioned(id: string, offset: number, featuresJson: string): PositionedTransaction {
  return {
    tx: sampleTransaction({ transaction_id: id, idempotency_key: `idem-${id}` }),
    position: { topic: 'in', partition: 0, offset: String(offset) },
    late: false,
    featuresJson,
  };
}

describe('transactions sink', () => {
  it('stores each feature snapshot exactly, with or without characters SQL must escape', async () => {
    const snapshots = [
      '{"amount_base_minor":1999,"account_risk_tier":"LOW","x":null,"y":true,"z":-1.5e-7}',
      `{"note":"it's","path":"a\\\\b","q":"say \\"hi\\""}`,
      '{"nul":"\\u0000","quote":"\'"}',
    ];
    const batch = snapshots.map((f, i) => positioned(`sink-${i}`, i, f));
    const result = await writeBatch(pool, { fresh: batch, replayed: [], duplicates: [] });
    expect(result.inserted).toBe(snapshots.length);
    const [rows] = await pool.query<RowDataPacket[]>(
      'SELECT transaction_id, CAST(features AS CHAR) AS text FROM transactions ORDER BY transaction_id',
    );
    expect(rows.map((r) => r.text as string)).toEqual(snapshots);
  });
});
