/**
 * `txmon labels load`: ground truth into the `labels` table, from the simulator's JSONL (a valid
 * transaction with a `label` is fraud of that pattern, one without is legitimate) or from a CSV with
 * a header `transaction_id,label[,pattern]` (label: fraud or legit). Upserts: safe to re-run.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { InputError } from '../platform/errors.ts';
import type { Pool } from '../platform/mysql.ts';

interface LabelRow {
  transactionId: string;
  label: 'fraud' | 'legit';
  pattern: string | null;
}

const CHUNK = 5_000;

async function upsert(pool: Pool, rows: LabelRow[], source: string): Promise<void> {
  if (rows.length === 0) return;
  await pool.query(
    'INSERT INTO labels (transaction_id, label, pattern, source, labelled_at) VALUES ? ' +
      'ON DUPLICATE KEY UPDATE label = VALUES(label), pattern = VALUES(pattern), source = VALUES(source), labelled_at = VALUES(labelled_at)',
    [rows.map((r) => [r.transactionId, r.label, r.pattern, source, new Date()])],
  );
}

/** Parses one line; null for lines that carry no label (duplicates, malformed records, the header). */
export function parseLabelLine(line: string, format: 'jsonl' | 'csv'): LabelRow | null {
  if (format === 'jsonl') {
    const o = JSON.parse(line) as { kind?: string; transaction_id?: string; label?: string };
    if (o.kind !== 'valid' || typeof o.transaction_id !== 'string') return null;
    return { transactionId: o.transaction_id, label: o.label ? 'fraud' : 'legit', pattern: o.label ?? null };
  }
  const [id, label, pattern] = line.split(',').map((s) => s.trim());
  if (!id || id === 'transaction_id') return null;
  if (label !== 'fraud' && label !== 'legit') throw new Error(`label must be fraud or legit, got ${JSON.stringify(label)}`);
  return { transactionId: id, label, pattern: pattern || null };
}

/** Loads a file; returns counts. Bad lines are reported by number and fail the load (nothing is half-read silently). */
export async function loadLabels(
  pool: Pool,
  file: string,
  source: string,
  say: (line: string) => void,
): Promise<{ fraud: number; legit: number; skipped: number }> {
  const format = file.endsWith('.csv') ? 'csv' : 'jsonl';
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  const counts = { fraud: 0, legit: 0, skipped: 0 };
  let pending: LabelRow[] = [];
  let n = 0;
  try {
    for await (const line of lines) {
      n++;
      if (line.trim() === '') continue;
      let row: LabelRow | null;
      try {
        row = parseLabelLine(line, format);
      } catch (err) {
        throw new InputError(`${file} line ${n}: ${(err as Error).message}`);
      }
      if (row === null) {
        counts.skipped++;
        continue;
      }
      counts[row.label]++;
      pending.push(row);
      if (pending.length >= CHUNK) {
        await upsert(pool, pending, source);
        pending = [];
        if ((counts.fraud + counts.legit) % 50_000 < CHUNK)
          say(`labels: ${(counts.fraud + counts.legit).toLocaleString('en')} loaded`);
      }
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new InputError(`cannot read ${file}: no such file`);
    throw err;
  }
  await upsert(pool, pending, source);
  return counts;
}
