/**
 * Turns a parsed CSV table into a numeric matrix plus labels, for evaluating the forest on public
 * anomaly-detection data sets. Pure: takes rows of strings, returns values and a report of every
 * choice made (columns left out and why, missing cells, which label value counts as anomalous).
 */
import type { Matrix } from './isolation-forest.ts';

/** Cell texts read as "no value". */
const MISSING = new Set(['', 'na', 'n/a', 'nan', '?', 'null', 'none']);
/**
 * A decimal number. Written so that every character has one way to match: `\d+\.?\d*` (the old
 * form) splits a digit run between two `\d` loops in n ways, so a 40,000-digit cell that is not a
 * number took 7 s to reject; this one rejects it in linear time.
 */
export const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
/** Label texts that name the anomalous class, when the label column holds two distinct texts. */
const POSITIVE_NAMES = new Set([
  '1',
  'true',
  'yes',
  'y',
  'anomaly',
  'anomalous',
  'outlier',
  'o',
  'attack',
  'fraud',
  'abnormal',
  'positive',
]);

export interface LabelledTable {
  readonly matrix: Matrix;
  readonly features: string[];
  /** One per row; `null` when the row's label is missing (scored, left out of the metrics). */
  readonly labels: Array<boolean | null>;
  readonly positiveLabel: string;
  readonly positives: number;
  readonly excluded: Array<{ column: string; reason: string }>;
  readonly missingCells: number;
  readonly rowsWithMissing: number;
  readonly rowsWithoutLabel: number;
}

export class TableError extends Error {
  override readonly name = 'TableError';
}

const isMissing = (cell: string) => MISSING.has(cell.trim().toLowerCase());

/** Picks which label text is the anomaly: the one given, a known name, a non-zero number, or the rarer one. */
function choosePositive(values: Map<string, number>, given: string | undefined): string {
  if (given !== undefined) {
    if (!values.has(given))
      throw new TableError(
        `--positive ${JSON.stringify(given)} is not a label value; values: ${[...values.keys()].slice(0, 10).join(', ')}`,
      );
    return given;
  }
  const distinct = [...values.keys()];
  if (distinct.length === 1) throw new TableError(`the label column holds one value only (${distinct[0]}): nothing to evaluate`);
  const numeric = distinct.every((v) => NUMBER.test(v));
  if (numeric) {
    const nonZero = distinct.filter((v) => Number(v) !== 0);
    if (nonZero.length === 1 && distinct.length === 2) return nonZero[0] as string;
  }
  if (distinct.length > 2)
    throw new TableError(
      `the label column holds ${distinct.length} values (${distinct.slice(0, 10).join(', ')}${distinct.length > 10 ? ', ...' : ''}): say which is anomalous with --positive`,
    );
  const named = distinct.filter((v) => POSITIVE_NAMES.has(v.toLowerCase()));
  if (named.length === 1) return named[0] as string;
  // Anomalies are the rare class by definition.
  const [a, b] = distinct as [string, string];
  return (values.get(a) as number) <= (values.get(b) as number) ? a : b;
}

/**
 * Builds the matrix from every numeric column but the label. A column is numeric when each of its
 * present cells is a finite decimal number; missing cells become NaN (the forest fills them with
 * the column median). Columns with no value, or with any other text, are left out and reported.
 */
export function labelledTable(
  header: readonly string[],
  rows: readonly string[][],
  label: string,
  positive?: string,
): LabelledTable {
  const labelCol = header.indexOf(label);
  if (labelCol < 0) throw new TableError(`no column named ${JSON.stringify(label)}; columns: ${header.join(', ')}`);
  if (rows.length < 2) throw new TableError(`${rows.length} data rows: need at least 2`);
  rows.forEach((row, i) => {
    if (row.length !== header.length)
      throw new TableError(`data row ${i + 1} has ${row.length} cells, the header ${header.length}`);
  });

  const excluded: Array<{ column: string; reason: string }> = [];
  const keep: number[] = [];
  for (let c = 0; c < header.length; c++) {
    if (c === labelCol) continue;
    let present = 0;
    let bad: string | undefined;
    for (const row of rows) {
      const cell = row[c] as string;
      if (isMissing(cell)) continue;
      if (!NUMBER.test(cell.trim())) {
        bad = cell;
        break;
      }
      present++;
    }
    const name = header[c] as string;
    if (bad !== undefined) excluded.push({ column: name, reason: `not numeric (e.g. ${JSON.stringify(bad.slice(0, 20))})` });
    else if (present === 0) excluded.push({ column: name, reason: 'no values' });
    else keep.push(c);
  }
  if (keep.length === 0) throw new TableError('no numeric column besides the label');

  const counts = new Map<string, number>();
  for (const row of rows) {
    const cell = (row[labelCol] as string).trim();
    if (!isMissing(cell)) counts.set(cell, (counts.get(cell) ?? 0) + 1);
  }
  if (counts.size === 0) throw new TableError(`the label column ${JSON.stringify(label)} has no values`);
  const positiveLabel = choosePositive(counts, positive);

  const cols = keep.length;
  const data = new Float64Array(rows.length * cols);
  const labels: Array<boolean | null> = [];
  let missingCells = 0;
  let rowsWithMissing = 0;
  let rowsWithoutLabel = 0;
  rows.forEach((row, r) => {
    let rowMissing = false;
    keep.forEach((c, k) => {
      const cell = row[c] as string;
      if (isMissing(cell)) {
        data[r * cols + k] = NaN;
        missingCells++;
        rowMissing = true;
      } else data[r * cols + k] = Number(cell);
    });
    if (rowMissing) rowsWithMissing++;
    const l = (row[labelCol] as string).trim();
    if (isMissing(l)) {
      labels.push(null);
      rowsWithoutLabel++;
    } else labels.push(l === positiveLabel);
  });

  return {
    matrix: { rows: rows.length, cols, data },
    features: keep.map((c) => header[c] as string),
    labels,
    positiveLabel,
    positives: counts.get(positiveLabel) ?? 0,
    excluded,
    missingCells,
    rowsWithMissing,
    rowsWithoutLabel,
  };
}
