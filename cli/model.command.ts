/** `txmon model ...`: train, evaluate and manage isolation-forest models. */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parse } from 'csv-parse/sync';
import { serializeForest } from '../detection/forest-file.ts';
import { scoreMatrix, trainForest } from '../detection/isolation-forest.ts';
import { TableError, labelledTable } from '../detection/labelled-table.ts';
import { averagePrecision, rocAuc } from '../detection/metrics.ts';
import { InputError } from '../platform/errors.ts';

export interface EvalCsvOptions {
  label: string;
  positive?: string;
  header: boolean;
  trees: number;
  sampleSize: number;
  seed: number;
}

export interface EvalCsvResult {
  file: string;
  rows: number;
  features: string[];
  excludedColumns: Array<{ column: string; reason: string }>;
  label: string;
  positiveLabel: string;
  positives: number;
  labelledRows: number;
  missingCells: number;
  rowsWithMissing: number;
  trees: number;
  sampleSize: number;
  seed: number;
  rocAuc: number;
  prAuc: number;
  trainMs: number;
  scoreUsPerRow: number;
  modelBytes: number;
}

/** The delimiter the first line uses most: comma, semicolon or tab. */
function sniffDelimiter(text: string): string {
  const end = text.indexOf('\n');
  const first = end < 0 ? text : text.slice(0, end);
  const counts = [',', ';', '\t'].map((d) => [d, first.split(d).length] as const);
  counts.sort((a, b) => b[1] - a[1]);
  return counts[0]?.[0] ?? ',';
}

/** Trains unsupervised on a labelled CSV's numeric columns and reports how well the scores rank the labels. */
export function evalCsv(file: string, o: EvalCsvOptions, say: (line: string) => void): EvalCsvResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new InputError(`cannot read ${file}: ${(err as Error).message}`);
  }
  say(`eval-csv: reading ${file} (${(text.length / 1e6).toFixed(1)} MB)`);
  let records: string[][];
  try {
    records = parse(text, { delimiter: sniffDelimiter(text), skip_empty_lines: true, bom: true }) as string[][];
  } catch (err) {
    throw new InputError(`${file} is not valid CSV: ${(err as Error).message}`);
  }
  const header = o.header ? (records.shift() ?? []) : (records[0] ?? []).map((_, i) => `c${i}`);
  const label = o.header ? o.label : /^\d+$/.test(o.label) ? `c${o.label}` : o.label;
  let table;
  try {
    table = labelledTable(header, records, label, o.positive);
  } catch (err) {
    if (err instanceof TableError) throw new InputError(`${file}: ${err.message}`);
    throw err;
  }
  say(
    `eval-csv: ${table.matrix.rows} rows, ${table.features.length} numeric features; label ${label} = ${JSON.stringify(table.positiveLabel)} is anomalous (${table.positives} rows)`,
  );

  const t0 = performance.now();
  const model = trainForest(table.matrix, { trees: o.trees, sampleSize: o.sampleSize, seed: o.seed });
  const trainMs = performance.now() - t0;
  // Warm up on a few rows first, so the figure is the steady per-row cost and not the JIT's.
  const warm = Math.min(table.matrix.rows, 5000);
  scoreMatrix(model, { rows: warm, cols: table.matrix.cols, data: table.matrix.data.subarray(0, warm * table.matrix.cols) });
  const t1 = performance.now();
  const scores = scoreMatrix(model, table.matrix);
  const scoreMs = performance.now() - t1;

  const keptScores: number[] = [];
  const keptLabels: boolean[] = [];
  table.labels.forEach((l, i) => {
    if (l === null) return;
    keptScores.push(scores[i] as number);
    keptLabels.push(l);
  });
  return {
    file,
    rows: table.matrix.rows,
    features: table.features,
    excludedColumns: table.excluded,
    label,
    positiveLabel: table.positiveLabel,
    positives: table.positives,
    labelledRows: keptLabels.length,
    missingCells: table.missingCells,
    rowsWithMissing: table.rowsWithMissing,
    trees: model.trees,
    sampleSize: model.sampleSize,
    seed: model.seed,
    rocAuc: rocAuc(keptScores, keptLabels),
    prAuc: averagePrecision(keptScores, keptLabels),
    trainMs,
    scoreUsPerRow: (scoreMs * 1000) / table.matrix.rows,
    modelBytes: Buffer.byteLength(serializeForest(model, table.features)),
  };
}

/** The human-readable report of an eval-csv run. */
export function formatEvalCsv(r: EvalCsvResult): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const lines = [
    `${r.file}: ${n(r.rows)} rows, ${r.features.length} features, ${n(r.positives)} anomalous (${r.label} = ${r.positiveLabel}, ${((100 * r.positives) / Math.max(1, r.labelledRows)).toFixed(2)}%)`,
    `  features          ${r.features.join(', ')}`,
    `  left out          ${r.excludedColumns.length === 0 ? 'none' : r.excludedColumns.map((e) => `${e.column} (${e.reason})`).join('; ')}`,
    `  missing values    ${n(r.missingCells)} cells in ${n(r.rowsWithMissing)} rows (filled with the column median)`,
    ...(r.labelledRows < r.rows ? [`  without a label   ${n(r.rows - r.labelledRows)} rows (scored, not in the metrics)`] : []),
    `  forest            ${r.trees} trees, sample size ${r.sampleSize}, seed ${r.seed}`,
    `  ROC AUC           ${r.rocAuc.toFixed(4)}`,
    `  PR AUC (AP)       ${r.prAuc.toFixed(4)}`,
    `  training          ${r.trainMs.toFixed(1)} ms`,
    `  scoring           ${r.scoreUsPerRow.toFixed(2)} µs/row`,
    `  model size        ${n(r.modelBytes)} bytes`,
  ];
  return `${lines.join('\n')}\n`;
}
