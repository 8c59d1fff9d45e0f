/**
 * `txmon ops evaluate-csv`: the ops-watch detector measured on labelled CSV files (recall of the
 * labelled windows, their delay, false-alarm events per day, chance recall), robust against the
 * rolling z-score. The measures are ops/labelled-eval.ts's; docs/ops-watch.md.
 */
import { InputError } from '../platform/errors.ts';
import type { BaselineMethod, DetectorParams } from '../ops/detector.ts';
import { readLabelledCsv, type LabelledTable } from '../ops/labelled-csv.ts';
import { evaluateTable, totals, type SeriesEvaluation, type Totals } from '../ops/labelled-eval.ts';
import { detectorParams, readCsvFile, withFile, type DetectCsvOptions } from './ops.actions.ts';

/** `txmon ops evaluate-csv`'s options: the detector's as detect-csv has them, and how the files are read and measured. */
export interface EvaluateCsvOptions extends Omit<DetectCsvOptions, 'value' | 'method'> {
  label: string;
  value?: string[];
  exclude?: string[];
  method?: BaselineMethod | 'both';
  /** How long after a window's last row a flag still counts as its detection, ms. */
  tolerance?: number;
  unlabelledClean?: boolean;
}

/** How long after a window a flag still detects it by default: SKAB's scoring window after a changepoint, ops evaluate's settle. */
export const DEFAULT_TOLERANCE_MS = 60_000;

/** What `evaluate-csv --json` prints. */
export interface EvaluateCsvReport {
  params: {
    detector: Omit<DetectorParams, 'method'>;
    methods: BaselineMethod[];
    toleranceMs: number;
    timeColumn: string;
    labelColumn: string;
  };
  files: Array<{
    file: string;
    rows: number;
    labelled: boolean;
    sorted: boolean;
    duplicateTimes: number;
    windows: Array<{ from: string; to: string; rows: number }>;
    series: Array<{
      column: string;
      points: number;
      skipped: number;
      results: Partial<Record<BaselineMethod, SeriesEvaluation>>;
    }>;
    any: Partial<Record<BaselineMethod, SeriesEvaluation>>;
  }>;
  /** Per method: every series of every file together, and every file's any-column view together. */
  totals: Partial<Record<BaselineMethod, { series: Totals; any: Totals }>>;
}

/** Reads each labelled file, runs the detector over each value column with each method, measures it against the labels. */
export function evaluateCsv(files: readonly string[], o: EvaluateCsvOptions, say: (line: string) => void): EvaluateCsvReport {
  const methods: BaselineMethod[] = o.method === undefined || o.method === 'both' ? ['robust', 'zscore'] : [o.method];
  const { method: _both, ...options } = o;
  const base = detectorParams(options);
  const params: Partial<Record<BaselineMethod, DetectorParams>> = {};
  for (const method of methods) params[method] = { ...base, method };
  const toleranceMs = o.tolerance ?? DEFAULT_TOLERANCE_MS;
  const report: EvaluateCsvReport['files'] = files.map((file) => {
    const text = readCsvFile(file);
    const table: LabelledTable = withFile(file, () =>
      readLabelledCsv(text, {
        time: o.time,
        label: o.label,
        values: o.value,
        exclude: o.exclude,
        delimiter: o.delimiter,
        unlabelledClean: o.unlabelledClean,
      }),
    );
    if (!table.labelled) say(`${file}: no ${o.label} column: read as all normal (--unlabelled-clean)`);
    if (table.sorted) say(`${file}: rows were out of time order; read in time order`);
    if (table.duplicateTimes > 0) say(`${file}: ${table.duplicateTimes} rows with the same time as the row before (kept)`);
    if (table.ignored.length > 0) say(`${file}: no number in ${table.ignored.join(', ')}: left out`);
    table.columns.forEach((c, i) => {
      const n = table.skipped[i] as number;
      if (n > 0) say(`${file}: ${n} empty or non-numeric cells in ${c} skipped`);
    });
    let e: ReturnType<typeof evaluateTable>;
    try {
      e = evaluateTable(table, params, toleranceMs);
    } catch (err) {
      if (err instanceof RangeError) throw new InputError(`${file}: ${err.message}`, err);
      throw err;
    }
    return {
      file,
      rows: table.times.length,
      labelled: table.labelled,
      sorted: table.sorted,
      duplicateTimes: table.duplicateTimes,
      windows: e.windows.map((w) => ({
        from: new Date(table.times[w.first] as number).toISOString(),
        to: new Date(table.times[w.last] as number).toISOString(),
        rows: w.last - w.first + 1,
      })),
      series: e.series.map((s, i) => ({
        column: s.column,
        points: table.times.length - (table.skipped[i] as number),
        skipped: table.skipped[i] as number,
        results: s.results,
      })),
      any: e.any,
    };
  });
  // A misspelt --label with --unlabelled-clean would read every file as clean: nothing measured.
  if (!report.some((f) => f.labelled))
    throw new InputError(
      `none of the ${files.length} file(s) has the label column ${o.label}: nothing to measure recall on (check --label)`,
    );
  const sums: EvaluateCsvReport['totals'] = {};
  for (const method of methods)
    sums[method] = {
      series: totals(report.flatMap((f) => f.series.map((s) => s.results[method] as SeriesEvaluation))),
      any: totals(report.map((f) => f.any[method] as SeriesEvaluation)),
    };
  const { method: _m, ...detector } = base;
  return { params: { detector, methods, toleranceMs, timeColumn: o.time, labelColumn: o.label }, files: report, totals: sums };
}

const seconds = (ms: number | null) => (ms === null ? '-' : `${Math.round(ms / 1_000)} s`);
const perDay = (x: number | null) => (x === null ? '-' : x.toFixed(x < 10 ? 1 : 0));

/** The report as text: per file a row per series (and the any-column view) with each method's figures, then the totals. */
export function formatEvaluateCsv(r: EvaluateCsvReport): string {
  const d = r.params.detector;
  const methods = r.params.methods;
  const width = Math.max(12, ...r.files.flatMap((f) => f.series.map((s) => s.column.length)));
  const lines = [
    `parameters: baseline over ${d.windowMs / 60_000} min (at least ${d.minPoints} points), threshold ${d.threshold}, ${d.persist} in a row; a flag up to ${seconds(r.params.toleranceMs)} after a window detects it`,
    "per method: windows detected, the first flag's delay, false-alarm events outside the windows, and those per day of normal time",
  ];
  const cells = (e: SeriesEvaluation) => {
    const delay = e.delays.find((x) => x !== null);
    return `${`${e.detected}/${e.windows}`.padStart(5)} ${seconds(delay?.ms ?? null).padStart(6)} ${String(e.falseAlarms).padStart(6)} ${perDay(e.falseAlarmsPerDay).padStart(7)}`;
  };
  const head = `  ${'series'.padEnd(width)}${methods.map((m) => `  | ${m.padEnd(6)} found  delay alarms per day`).join('')}`;
  for (const f of r.files) {
    const w = f.windows;
    lines.push(
      '',
      `${f.file}: ${f.rows} rows; ${f.labelled ? `${w.length} window${w.length === 1 ? '' : 's'}${w.length > 0 ? ` (${w.map((x) => `${x.from} to ${x.to}, ${x.rows} rows`).join('; ')})` : ''}` : 'unlabelled, read as all normal'}`,
      head,
    );
    for (const s of f.series)
      lines.push(
        `  ${s.column.padEnd(width)}${methods.map((m) => `  |        ${cells(s.results[m] as SeriesEvaluation)}`).join('')}`,
      );
    lines.push(
      `  ${'any column'.padEnd(width)}${methods.map((m) => `  |        ${cells(f.any[m] as SeriesEvaluation)}`).join('')}`,
    );
  }
  const series = r.files.reduce((n, f) => n + f.series.length, 0);
  lines.push('', `totals over ${r.files.length} file${r.files.length === 1 ? '' : 's'}, ${series} series:`);
  for (const m of methods) {
    const t = r.totals[m] as { series: Totals; any: Totals };
    for (const [view, x] of [
      ['per series', t.series],
      ['any column', t.any],
    ] as const)
      lines.push(
        `  ${m.padEnd(6)} ${view}: ${x.detected} of ${x.windows} windows detected${x.recall === null ? '' : ` (${(100 * x.recall).toFixed(1)} %; random alarms of its habits: ${(100 * (x.chanceRecall as number)).toFixed(1)} %)`}, median delay ${seconds(x.medianDelayMs)}; ${x.falseAlarms} false alarms in ${(x.normalMs / 3_600_000).toFixed(1)} h of normal time (${perDay(x.falseAlarmsPerDay)} per day${view === 'per series' ? ' per series' : ''})`,
      );
  }
  return `${lines.join('\n')}\n`;
}

export function evaluateCsvCommand(files: readonly string[], o: EvaluateCsvOptions, say: (line: string) => void): string {
  const report = evaluateCsv(files, o, say);
  return o.json ? `${JSON.stringify(report)}\n` : formatEvaluateCsv(report);
}
