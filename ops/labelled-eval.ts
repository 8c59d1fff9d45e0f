/**
 * How the detector (ops/detector.ts) does on series whose anomalies are labelled (a public
 * benchmark's CSV files, read by ops/labelled-csv.ts). The measures, each defined here once, over a
 * file's rows in time order:
 *
 * - **Window**: a maximal run of rows labelled 1. Its **detection span** is the window and the rows
 *   after it within `toleranceMs` of its last row (a fault's recovery is a change too: SKAB scores a
 *   detection up to 60 s after the changepoint), cut where the next window begins.
 * - **Detected**: a row in the span is flagged. **Recall** = detected windows / windows. **Delay**:
 *   the span's first flagged row from the window's first row, in rows and in ms.
 * - **False alarm**: a flagged row outside every span. Consecutive ones (the rows of the series
 *   between them, its own missing points aside, all flagged and outside) are one alarm **event**.
 * - **Normal time**: for each row outside every span at which the series has a scored point (past
 *   the detector's warm-up), the time since the row before. False alarms per day = events per
 *   86,400,000 ms of it.
 * - **Chance recall**: the recall random alarms with the series' own habits would get: per window,
 *   the chance that one is under way at its first row (the share of normal time in alarm) or that
 *   one starts within its span (events per quiet normal time, Poisson): chanceOfDetection. A recall
 *   no better than it is no evidence that the detector saw the anomaly.
 * - **Any column**: the file's series together (the multivariate view): a row is flagged when any
 *   series is flagged at it, scored when any is scored.
 * Pure.
 */
import { scoreSeries, type BaselineMethod, type DetectorParams } from './detector.ts';
import type { LabelledTable } from './labelled-csv.ts';

/** A window of rows labelled 1: its first and last row (indices, inclusive). */
export interface LabelWindow {
  readonly first: number;
  readonly last: number;
}

/**
 * What a series has at a row: `gap` (no point: the cell was empty or not a number), `warm` (a point
 * the detector did not score: its baseline was still filling), `ok` (scored, not flagged), `flag`.
 */
export type RowState = 'gap' | 'warm' | 'ok' | 'flag';

export interface SeriesEvaluation {
  readonly windows: number;
  readonly detected: number;
  /** detected / windows; null with no window. */
  readonly recall: number | null;
  /** The recall of random alarms at this series' false-alarm rate (the module's definition); null with no window. */
  readonly chanceRecall: number | null;
  /** Per window, its delay from its first row to the first flag in its span; null: not detected. */
  readonly delays: ReadonlyArray<{ readonly rows: number; readonly ms: number } | null>;
  /** Flagged rows, in and out of the spans. */
  readonly flagged: number;
  /** False-alarm events. */
  readonly falseAlarms: number;
  readonly normalMs: number;
  /** falseAlarms per 86,400,000 ms of normal time; null with none. */
  readonly falseAlarmsPerDay: number | null;
}

export interface Totals {
  readonly series: number;
  readonly windows: number;
  readonly detected: number;
  readonly recall: number | null;
  /** The mean of the series' chance recalls, weighted by their windows. */
  readonly chanceRecall: number | null;
  /** The median of the detected windows' delays (ms); null with none detected. */
  readonly medianDelayMs: number | null;
  readonly falseAlarms: number;
  readonly normalMs: number;
  /** Events per day of normal time, over every series together (per series-day). */
  readonly falseAlarmsPerDay: number | null;
}

const DAY_MS = 86_400_000;

/** The windows of a label sequence: its maximal runs of 1. */
export function labelWindows(labels: ArrayLike<0 | 1>): LabelWindow[] {
  const out: LabelWindow[] = [];
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] !== 1) continue;
    if (i > 0 && labels[i - 1] === 1) (out[out.length - 1] as { last: number }).last = i;
    else out.push({ first: i, last: i });
  }
  return out;
}

/** Each row's span: the index of the window whose detection span holds it, or −1 outside every span. */
export function spanOfRows(times: ArrayLike<number>, windows: readonly LabelWindow[], toleranceMs: number): Int32Array {
  if (!(toleranceMs >= 0)) throw new RangeError(`toleranceMs must be non-negative, got ${toleranceMs}`);
  const span = new Int32Array(times.length).fill(-1);
  windows.forEach((w, k) => {
    const next = windows[k + 1]?.first ?? times.length;
    const until = (times[w.last] as number) + toleranceMs;
    for (let i = w.first; i < next && (i <= w.last || (times[i] as number) <= until); i++) span[i] = k;
  });
  return span;
}

/** Measures one series' row states against the windows (see the module's definitions). */
export function evaluateRows(
  times: ArrayLike<number>,
  windows: readonly LabelWindow[],
  states: ArrayLike<RowState>,
  toleranceMs: number,
): SeriesEvaluation {
  if (states.length !== times.length) throw new RangeError(`${states.length} row states for ${times.length} rows`);
  const span = spanOfRows(times, windows, toleranceMs);
  const delays: Array<{ rows: number; ms: number } | null> = windows.map(() => null);
  let flagged = 0;
  let falseAlarms = 0;
  let normalMs = 0;
  let alarmMs = 0;
  let inAlarm = false;
  for (let i = 0; i < times.length; i++) {
    const s = states[i] as RowState;
    if (s === 'gap') continue;
    const k = span[i] as number;
    if (s === 'flag') flagged++;
    if (k >= 0) {
      const w = windows[k] as LabelWindow;
      if (s === 'flag' && delays[k] === null)
        delays[k] = { rows: i - w.first, ms: (times[i] as number) - (times[w.first] as number) };
      inAlarm = false;
      continue;
    }
    if (s !== 'warm' && i > 0) {
      const dt = (times[i] as number) - (times[i - 1] as number);
      normalMs += dt;
      if (s === 'flag') alarmMs += dt;
    }
    if (s === 'flag' && !inAlarm) falseAlarms++;
    inAlarm = s === 'flag';
  }
  const detected = delays.filter((d) => d !== null).length;
  const spanEnd = windows.map((w) => w.last);
  span.forEach((k, i) => {
    if (k >= 0) spanEnd[k] = i;
  });
  const chance = windows.map((w, k) =>
    chanceOfDetection(normalMs, alarmMs, falseAlarms, (times[spanEnd[k] as number] as number) - (times[w.first] as number)),
  );
  return {
    windows: windows.length,
    detected,
    recall: windows.length === 0 ? null : detected / windows.length,
    chanceRecall: windows.length === 0 ? null : chance.reduce((a, b) => a + b, 0) / windows.length,
    delays,
    flagged,
    falseAlarms,
    normalMs,
    falseAlarmsPerDay: normalMs === 0 ? null : (falseAlarms * DAY_MS) / normalMs,
  };
}

/**
 * The chance that random alarms with a series' own habits detect a span of `spanMs`: alarm
 * episodes under way a share q = alarmMs / normalMs of normal time (one is under way at the span's
 * start with that probability) and starting at `starts` per quiet normal time (Poisson); so
 * 1 − (1 − q) × exp(−starts / (normalMs − alarmMs) × spanMs). A series never quiet: q.
 */
export function chanceOfDetection(normalMs: number, alarmMs: number, starts: number, spanMs: number): number {
  const q = normalMs === 0 ? 0 : alarmMs / normalMs;
  const quietMs = normalMs - alarmMs;
  return quietMs <= 0 ? q : 1 - (1 - q) * Math.exp(-(starts / quietMs) * spanMs);
}

/** The rows of a file as one series: flagged where any series is, scored where any is, a gap where all are. */
export function anyColumn(columns: ReadonlyArray<ArrayLike<RowState>>, rows: number): RowState[] {
  const rank: Record<RowState, number> = { gap: 0, warm: 1, ok: 2, flag: 3 };
  const names: RowState[] = ['gap', 'warm', 'ok', 'flag'];
  const out: RowState[] = [];
  for (let i = 0; i < rows; i++) {
    let best = 0;
    for (const c of columns) best = Math.max(best, rank[c[i] as RowState]);
    out.push(names[best] as RowState);
  }
  return out;
}

/** A column's row states under the detector: its points (rows with a value) scored in row order. */
export function rowStates(times: readonly number[], values: ReadonlyArray<number | null>, params: DetectorParams): RowState[] {
  const rows: number[] = [];
  const points: Array<[number, number]> = [];
  values.forEach((v, i) => {
    if (v === null) return;
    rows.push(i);
    points.push([times[i] as number, v]);
  });
  const states: RowState[] = values.map(() => 'gap');
  scoreSeries(points, params).forEach((p, j) => {
    states[rows[j] as number] = p.baseline === null ? 'warm' : p.flagged ? 'flag' : 'ok';
  });
  return states;
}

/** Over many series: the windows and events summed, recall and the rate over the sums, the median delay. */
export function totals(evals: readonly SeriesEvaluation[]): Totals {
  const sum = (f: (e: SeriesEvaluation) => number) => evals.reduce((n, e) => n + f(e), 0);
  const windows = sum((e) => e.windows);
  const detected = sum((e) => e.detected);
  const falseAlarms = sum((e) => e.falseAlarms);
  const normalMs = sum((e) => e.normalMs);
  const delays = evals
    .flatMap((e) => e.delays)
    .filter((d) => d !== null)
    .map((d) => d.ms)
    .sort((a, b) => a - b);
  const mid = delays.length >> 1;
  return {
    series: evals.length,
    windows,
    detected,
    recall: windows === 0 ? null : detected / windows,
    chanceRecall: windows === 0 ? null : sum((e) => (e.chanceRecall ?? 0) * e.windows) / windows,
    medianDelayMs:
      delays.length === 0
        ? null
        : delays.length % 2 === 1
          ? (delays[mid] as number)
          : ((delays[mid - 1] as number) + (delays[mid] as number)) / 2,
    falseAlarms,
    normalMs,
    falseAlarmsPerDay: normalMs === 0 ? null : (falseAlarms * DAY_MS) / normalMs,
  };
}

export interface TableEvaluation {
  readonly windows: readonly LabelWindow[];
  /** Per value column (the table's order), per method. */
  readonly series: ReadonlyArray<{
    readonly column: string;
    readonly results: Partial<Record<BaselineMethod, SeriesEvaluation>>;
  }>;
  /** Any column flagged, per method. */
  readonly any: Partial<Record<BaselineMethod, SeriesEvaluation>>;
}

/** Runs the detector over each column of a table with each method's params and measures it against the table's labels. */
export function evaluateTable(
  table: LabelledTable,
  params: Partial<Record<BaselineMethod, DetectorParams>>,
  toleranceMs: number,
): TableEvaluation {
  const windows = labelWindows(table.labels);
  const series = table.columns.map((column) => ({ column, results: {} as Partial<Record<BaselineMethod, SeriesEvaluation>> }));
  const any: Partial<Record<BaselineMethod, SeriesEvaluation>> = {};
  for (const [method, p] of Object.entries(params) as Array<[BaselineMethod, DetectorParams]>) {
    const states = table.values.map((values) => rowStates(table.times, values, p));
    states.forEach((s, c) => {
      (series[c] as (typeof series)[number]).results[method] = evaluateRows(table.times, windows, s, toleranceMs);
    });
    any[method] = evaluateRows(table.times, windows, anyColumn(states, table.times.length), toleranceMs);
  }
  return { windows, series, any };
}
