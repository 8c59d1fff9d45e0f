/** `txmon refdata load`: validates reference-data CSV files line by line and upserts the good rows. */
import { createReadStream } from 'node:fs';
import { parse } from 'csv-parse';
import type { Pool } from '../platform/mysql.ts';
import { REFDATA, validateRow, type RefdataKind, type RowProblem } from './rows.ts';

export interface LoadReport {
  kind: RefdataKind;
  file: string;
  rows: number;
  upserted: number;
  problems: RowProblem[];
}

const CHUNK = 1_000;

/** Loads one CSV file (header row required); bad lines are reported with their line numbers, not loaded. */
export async function loadCsv(
  pool: Pool,
  kind: RefdataKind,
  file: string,
  progress: (line: string) => void = () => {},
): Promise<LoadReport> {
  const spec = REFDATA[kind];
  const report: LoadReport = { kind, file, rows: 0, upserted: 0, problems: [] };
  const parser = createReadStream(file).pipe(
    parse({ columns: true, skip_empty_lines: true, trim: true, info: true, relax_column_count: true }),
  );
  let batch: unknown[][] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const updates = spec.columns.map((c) => `${c} = VALUES(${c})`).join(', ');
    await pool.query(`INSERT INTO ${spec.table} (${spec.columns.join(', ')}) VALUES ? ON DUPLICATE KEY UPDATE ${updates}`, [
      batch,
    ]);
    report.upserted += batch.length;
    batch = [];
    progress(`refdata: ${kind}: ${report.upserted.toLocaleString('en')} rows loaded`);
  };
  for await (const { record, info } of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number } }>) {
    report.rows++;
    const result = validateRow(kind, record, info.lines);
    if (!result.ok) {
      report.problems.push(result.problem);
      continue;
    }
    batch.push(result.values);
    if (batch.length >= CHUNK) await flush();
  }
  await flush();
  return report;
}
