/**
 * One series from a CSV file with a header row: a time column (ISO 8601, or epoch milliseconds; a
 * time with no zone is UTC) and a numeric value column. Rows come back in time order; an empty value
 * is a gap (skipped and counted); anything else that is not a number is refused with its line.
 * Also what every reader of such files shares: the bytes as text (gzip undone) and the rows.
 */
import { gunzipSync } from 'node:zlib';
import { isGzip } from '../platform/gzip-text.ts';
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

export interface CsvOptions {
  /** The field separator: one character (default ','; SKAB's files use ';'). */
  readonly delimiter?: string;
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

/** A file's bytes as text: gunzipped first when they start with gzip's magic bytes (1f 8b), whatever the file's name. */
export function csvText(bytes: Uint8Array): string {
  let raw = bytes;
  if (isGzip(bytes)) {
    try {
      raw = gunzipSync(bytes);
    } catch (err) {
      throw new InputError(`not a readable gzip file: ${(err as Error).message}`, err);
    }
  }
  return new TextDecoder('utf-8').decode(raw);
}

/** One row of a CSV text and the line of the file it ends on (1-based, empty lines counted). */
export interface CsvRow {
  readonly cells: string[];
  readonly line: number;
}

/** The rows of a CSV text, the header first (empty lines skipped, short rows kept short), or an InputError. */
export function parseCsvRows(text: string, o: CsvOptions = {}): CsvRow[] {
  const delimiter = o.delimiter ?? ',';
  // One character: csv-parse would take a longer string as a multi-character separator, which no CSV uses.
  if ([...delimiter].length !== 1) throw new InputError(`--delimiter must be one character, got ${JSON.stringify(delimiter)}`);
  try {
    // The line each record ends on, noted as it is read (on_record), for error messages.
    const lines: number[] = [];
    const rows = parse(text, {
      skip_empty_lines: true,
      bom: true,
      relax_column_count: true,
      delimiter,
      on_record: (record, context) => {
        lines.push(context.lines);
        return record;
      },
    });
    return rows.map((cells, i) => ({ cells, line: lines[i] as number }));
  } catch (err) {
    throw new InputError(`not a readable CSV file: ${(err as Error).message}`, err);
  }
}

/** The header's index of a column named by an option, or an InputError naming the option and the columns there are. */
export function columnIndex(header: readonly string[], flag: string, name: string): number {
  const i = header.indexOf(name);
  if (i < 0) throw new InputError(`${flag}: no column ${JSON.stringify(name)} in the header (columns: ${header.join(', ')})`);
  return i;
}

export function readSeriesCsv(text: string, timeColumn: string, valueColumn: string, o: CsvOptions = {}): Series {
  const rows = parseCsvRows(text, o);
  const header = (rows[0]?.cells ?? []).map((h) => h.trim());
  const ti = columnIndex(header, '--time', timeColumn);
  const vi = columnIndex(header, '--value', valueColumn);
  const points: Array<[number, number]> = [];
  let gaps = 0;
  let sorted = false;
  for (let r = 1; r < rows.length; r++) {
    const { cells: row, line } = rows[r] as CsvRow;
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
