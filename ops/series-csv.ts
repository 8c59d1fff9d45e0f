/**
 * One series from a CSV file with a header row: a time column (ISO 8601, or epoch milliseconds; a
 * time with no zone is UTC) and a numeric value column. Rows come back in time order; an empty value
 * is a gap (skipped and counted); anything else that is not a number is refused with its line.
 */
import { parse } from 'csv-parse/sync';
import { InputError } from '../platform/errors.ts';

export interface Series {
  /** [epoch ms, value], ascending by time (stable for equal times). */
  readonly points: Array<[number, number]>;
  /** Rows whose value was empty. */
  readonly gaps: number;
  /** Whether the file's rows were out of time order (they are sorted). */
  readonly sorted: boolean;
}

const EPOCH_MS = /^-?\d+(\.\d+)?$/;
const NO_ZONE = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}(:\d{2}(\.\d+)?)?)$/;

/** A time cell as epoch ms, or null when it is neither ISO 8601 nor epoch ms. */
export function parseSeriesTime(cell: string): number | null {
  const s = cell.trim();
  if (EPOCH_MS.test(s)) return Number(s);
  const local = NO_ZONE.exec(s);
  const t = Date.parse(local ? `${local[1]}T${local[2]}Z` : s);
  return Number.isNaN(t) ? null : t;
}

export function readSeriesCsv(text: string, timeColumn: string, valueColumn: string): Series {
  let rows: string[][];
  try {
    rows = parse(text, { skip_empty_lines: true, bom: true, relax_column_count: true }) as string[][];
  } catch (err) {
    throw new InputError(`not a readable CSV file: ${(err as Error).message}`, err);
  }
  const header = (rows[0] ?? []).map((h) => h.trim());
  const ti = header.indexOf(timeColumn);
  const vi = header.indexOf(valueColumn);
  for (const [flag, name, i] of [
    ['--time', timeColumn, ti],
    ['--value', valueColumn, vi],
  ] as const)
    if (i < 0) throw new InputError(`${flag}: no column ${JSON.stringify(name)} in the header (columns: ${header.join(', ')})`);
  const points: Array<[number, number]> = [];
  let gaps = 0;
  let sorted = false;
  for (let r = 1; r < rows.length; r++) {
    const row = rows[r] as string[];
    const line = r + 1;
    const tCell = row[ti] ?? '';
    const vCell = (row[vi] ?? '').trim();
    const t = parseSeriesTime(tCell);
    if (t === null)
      throw new InputError(`line ${line}: ${JSON.stringify(tCell)} in ${timeColumn} is not an ISO 8601 time or epoch ms`);
    if (vCell === '') {
      gaps++;
      continue;
    }
    const v = Number(vCell);
    if (!Number.isFinite(v)) throw new InputError(`line ${line}: ${JSON.stringify(vCell)} in ${valueColumn} is not a number`);
    if (points.length > 0 && t < (points[points.length - 1] as [number, number])[0]) sorted = true;
    points.push([t, v]);
  }
  if (sorted) points.sort((a, b) => a[0] - b[0]);
  return { points, gaps, sorted };
}
