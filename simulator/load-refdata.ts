/** The simulated world's reference data, written as CSV and loaded with the real loader (tests and bench). */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TxmonConfig } from '../config/config.ts';
import { createPool } from '../platform/mysql.ts';
import { refdataCsvs } from './refdata.ts';
import type { SimOptions } from './types.ts';
import { loadCsv } from '../refdata/load.ts';

/** Writes the world of `opts` as accounts, merchants, bins and fx CSVs under `dir` and loads them; throws on a rejected line. */
export async function loadSimulatedRefdata(cfg: TxmonConfig, opts: SimOptions, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const csvs = refdataCsvs(opts);
  const pool = createPool(cfg);
  try {
    for (const kind of ['accounts', 'merchants', 'bins', 'fx'] as const) {
      writeFileSync(join(dir, `${kind}.csv`), csvs[kind]);
      const r = await loadCsv(pool, kind, join(dir, `${kind}.csv`));
      if (r.problems.length > 0) throw new Error(`refdata ${kind}: ${JSON.stringify(r.problems.slice(0, 3))}`);
    }
  } finally {
    await pool.end();
  }
}
