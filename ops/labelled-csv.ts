/**
 * A labelled table from a CSV file with a header row: a time column, a label column (0: normal, 1:
 * anomaly) and value columns, each a series. Rows come back in time order (stable for equal times).
 * A value cell that is empty or not a number is a point the series does not have (counted); a bad
 * time, or a label other than 0 or 1, is refused with its line. `txmon ops evaluate-csv` reads its
 * files with it (ops/labelled-eval.ts measures them).
 */
import { InputError } from '../platform/errors.ts';
import { columnIndex, parseCsvRows, parseSeriesTime, type CsvOptions, type CsvRow } from './series-csv.ts';

export interface LabelledTableOptions extends CsvOptions {
  readonly time: string;
  readonly label: string;
  /** The value columns; absent: every column but the time, the label and `exclude` that holds at least one number. */
  readonly values?: readonly string[];
  /** Columns left out of the default value columns (a second label column, an id); one a file lacks is no error. */
  readonly exclude?: readonly string[];
  /** A file without the label column is read as all normal (clean-only) instead of refused. */
  readonly unlabelledClean?: boolean;
}

export interface LabelledTable {
  /** The value columns, in the header's order (or `values`' order when given). */
  readonly columns: readonly string[];
  /** Each row's time, epoch ms, ascending. */
  readonly times: readonly number[];
  /** Each row's label. */
  readonly labels: ReadonlyArray<0 | 1>;
  /** values[c][row]: column c's value at the row; null when the cell was empty or not a number. */
  readonly values: ReadonlyArray<ReadonlyArray<number | null>>;
  /** Per column: cells that were empty or not a number (skipped). */
  readonly skipped: readonly number[];
  /** Whether the label column was there (false: read as all normal under `unlabelledClean`). */
  readonly labelled: boolean;
  /** Whether the file's rows were out of time order (they are sorted). */
  readonly sorted: boolean;
  /** Rows whose time equals the row before's (after sorting): kept, in file order. */
  readonly duplicateTimes: number;
  /** Columns left out of the default value columns because no cell of theirs is a number. */
  readonly ignored: readonly string[];
}

/** A cell as a finite number, or null (empty, not a number, ±Infinity, NaN). */
function cellNumber(cell: string | undefined): number | null {
  const s = (cell ?? '').trim();
  if (s === '') return null;
  const v = Number(s);
  return Number.isFinite(v) ? v : null;
}

/** Reads a labelled table; an InputError names the line and the cell at fault. */
export function readLabelledCsv(text: string, o: LabelledTableOptions): LabelledTable {
  const rows = parseCsvRows(text, o);
  const header = (rows[0]?.cells ?? []).map((h) => h.trim());
  const ti = columnIndex(header, '--time', o.time);
  const li = header.indexOf(o.label);
  if (li < 0 && !o.unlabelledClean)
    throw new InputError(
      `--label: no column ${JSON.stringify(o.label)} in the header (columns: ${header.join(', ')}); --unlabelled-clean reads such a file as all normal`,
    );
  const body = rows.slice(1);
  let valueIdx: number[];
  const ignored: string[] = [];
  if (o.values !== undefined && o.values.length > 0) {
    valueIdx = o.values.map((name) => {
      if (name === o.time || name === o.label)
        throw new InputError(`--value: ${JSON.stringify(name)} is the time or the label column`);
      return columnIndex(header, '--value', name);
    });
  } else {
    const exclude = new Set([o.time, o.label, ...(o.exclude ?? [])]);
    valueIdx = [];
    header.forEach((name, i) => {
      if (exclude.has(name)) return;
      if (body.some((r) => cellNumber(r.cells[i]) !== null)) valueIdx.push(i);
      else ignored.push(name);
    });
  }

  const parsed = body.map((r: CsvRow) => {
    const tCell = r.cells[ti] ?? '';
    const t = parseSeriesTime(tCell);
    if (t === null)
      throw new InputError(`line ${r.line}: ${JSON.stringify(tCell)} in ${o.time} is not an ISO 8601 time or epoch ms`);
    let label: 0 | 1 = 0;
    if (li >= 0) {
      const lCell = (r.cells[li] ?? '').trim();
      // 0 or 1, as integers or with a zero fraction (SKAB writes 0.0 and 1.0); not 0x1, 1e0 or +1.
      const n = /^[01](\.0+)?$/.test(lCell) ? Number(lCell) : NaN;
      if (n !== 0 && n !== 1) throw new InputError(`line ${r.line}: ${JSON.stringify(lCell)} in ${o.label} is not 0 or 1`);
      label = n;
    }
    return { t, label, cells: r.cells };
  });
  const sorted = parsed.some((p, i) => i > 0 && p.t < (parsed[i - 1] as (typeof parsed)[number]).t);
  // Array.prototype.sort is stable: rows of equal time keep their file order.
  if (sorted) parsed.sort((a, b) => a.t - b.t);
  const times = parsed.map((p) => p.t);
  const values = valueIdx.map((i) => parsed.map((p) => cellNumber(p.cells[i])));
  return {
    columns: valueIdx.map((i) => header[i] as string),
    times,
    labels: parsed.map((p) => p.label),
    values,
    skipped: values.map((col) => col.filter((v) => v === null).length),
    labelled: li >= 0,
    sorted,
    duplicateTimes: times.filter((t, i) => i > 0 && t === times[i - 1]).length,
    ignored,
  };
}
