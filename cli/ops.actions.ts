/**
 * `txmon ops …`: the ops-watch detector run offline over one exported series, and the engine over
 * recorded traces (over labelled files: ops-evaluate-csv.actions.ts).
 */
import { readFileSync } from 'node:fs';
import { DEFAULT_DETECTOR, scoreSeries, type BaselineMethod, type DetectorParams, type ScoredPoint } from '../ops/detector.ts';
import { csvText, readSeriesCsv } from '../ops/series-csv.ts';
import { InputError } from '../platform/errors.ts';
import type { TxmonConfig } from '../config/config.ts';
import { evaluateTrace, type Evaluation } from '../ops/evaluate.ts';
import {
  RAW_TRACE_FORMAT,
  readTrace,
  resample,
  TRACE_FORMAT,
  type Trace,
  type TraceFault,
  type TraceHeader,
} from '../ops/trace.ts';
import type { WatchParams } from '../ops/watch.ts';
import { shareBy, WATCHED_METRICS, watchParams } from '../ops/watch-list.ts';

export interface DetectCsvOptions {
  time: string;
  value: string;
  delimiter?: string;
  json?: boolean;
  method?: BaselineMethod;
  window?: number;
  threshold?: number;
  persist?: number;
  minPoints?: number;
  minScale?: number;
}

/** What `detect-csv --json` prints. */
export interface DetectCsvReport {
  anomalies: Array<{ time: string; score: number; value: number; baseline: number }>;
  params: DetectorParams & { timeColumn: string; valueColumn: string };
  points: number;
  gaps: number;
  /** Runs of consecutive flagged points: where an anomaly starts and ends. */
  episodes: Array<{ from: string; to: string; points: number; peakScore: number }>;
}

/** The detector's options detect-csv and evaluate-csv share. */
export type DetectorOptions = Pick<DetectCsvOptions, 'method' | 'window' | 'threshold' | 'persist' | 'minPoints' | 'minScale'>;

/** The detector's params from the command's options over the defaults. */
export function detectorParams(o: DetectorOptions): DetectorParams {
  return {
    method: o.method ?? DEFAULT_DETECTOR.method,
    windowMs: o.window ?? DEFAULT_DETECTOR.windowMs,
    threshold: o.threshold ?? DEFAULT_DETECTOR.threshold,
    persist: o.persist ?? DEFAULT_DETECTOR.persist,
    minPoints: o.minPoints ?? DEFAULT_DETECTOR.minPoints,
    minScale: o.minScale ?? DEFAULT_DETECTOR.minScale,
  };
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

/** A CSV file's text (gunzipped when it is gzip), or an InputError naming the file. */
export function readCsvFile(file: string): string {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new InputError(`cannot read ${file}: ${(err as Error).message}`, err);
  }
  return withFile(file, () => csvText(bytes));
}

/** Runs `read`, prefixing the file's name to an InputError's message (the reader names the line). */
export function withFile<T>(file: string, read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof InputError) throw new InputError(`${file}: ${err.message}`, err);
    throw err;
  }
}

/** Reads the file, runs the detector over the series, returns the report. */
export function detectCsv(file: string, o: DetectCsvOptions, say: (line: string) => void): DetectCsvReport {
  const text = readCsvFile(file);
  const params = detectorParams(o);
  const series = withFile(file, () => readSeriesCsv(text, o.time, o.value, { delimiter: o.delimiter }));
  if (series.sorted) say(`${file}: rows were out of time order; read in time order`);
  if (series.gaps > 0) say(`${file}: ${series.gaps} rows with an empty ${o.value} skipped`);
  let scored: ScoredPoint[];
  try {
    scored = scoreSeries(series.points, params);
  } catch (err) {
    if (err instanceof RangeError) throw new InputError(err.message, err);
    throw err;
  }
  const flagged = scored.filter((p) => p.flagged);
  const episodes: DetectCsvReport['episodes'] = [];
  let open: { from: number; to: number; points: number; peak: number } | null = null;
  for (const p of scored) {
    if (p.flagged) {
      if (open === null) open = { from: p.time, to: p.time, points: 0, peak: 0 };
      open.to = p.time;
      open.points++;
      if (Math.abs(p.score) > Math.abs(open.peak)) open.peak = p.score;
    } else if (open !== null && p.run === 0) {
      episodes.push(episode(open));
      open = null;
    }
  }
  if (open !== null) episodes.push(episode(open));
  return {
    anomalies: flagged.map((p) => ({
      time: new Date(p.time).toISOString(),
      score: round3(p.score),
      value: p.value,
      baseline: round3(p.baseline as number),
    })),
    params: { ...params, timeColumn: o.time, valueColumn: o.value },
    points: series.points.length,
    gaps: series.gaps,
    episodes,
  };
}

function episode(e: { from: number; to: number; points: number; peak: number }): DetectCsvReport['episodes'][number] {
  return { from: new Date(e.from).toISOString(), to: new Date(e.to).toISOString(), points: e.points, peakScore: round3(e.peak) };
}

/** The report as text: one line per flagged point, then the episodes. */
export function formatDetectCsv(r: DetectCsvReport): string {
  const p = r.params;
  const lines = [
    `${r.points} points; baseline ${p.method} over ${p.windowMs / 60_000} min (at least ${p.minPoints} points), threshold ${p.threshold}, ${p.persist} in a row: ${r.anomalies.length} flagged in ${r.episodes.length} episode${r.episodes.length === 1 ? '' : 's'}`,
  ];
  if (r.anomalies.length > 0) {
    lines.push('', 'time                      score       value      baseline');
    for (const a of r.anomalies)
      lines.push(
        `${a.time}  ${String(a.score).padStart(9)}  ${String(a.value).padStart(10)}  ${String(a.baseline).padStart(12)}`,
      );
    lines.push('', 'episodes (from, to, points, peak score):');
    for (const e of r.episodes) lines.push(`${e.from}  ${e.to}  ${e.points}  ${e.peakScore}`);
  }
  return `${lines.join('\n')}\n`;
}

export function detectCsvCommand(file: string, o: DetectCsvOptions, say: (line: string) => void): string {
  const report = detectCsv(file, o, say);
  return o.json ? `${JSON.stringify(report)}\n` : formatDetectCsv(report);
}

/** `txmon ops evaluate`'s options: the engine's parameters over the config's (TXMON_OPS_*). */
export interface EvaluateOptions {
  method?: BaselineMethod | 'both';
  window?: number;
  threshold?: number;
  persist?: number;
  minPoints?: number;
  group?: number;
  quiet?: number;
  horizon?: number;
  forecastPoints?: number;
  settle?: number;
  /** Replay each trace as if scraped this often, ms (from its raw samples). */
  scrapeInterval?: number;
  json?: boolean;
}

/** Issue 21's targets. */
export const EVALUATE_TARGETS = Object.freeze({ delayScrapes: 2, falseAlarmsPerDay: 1, lagLeadMs: 60_000 });

export interface EvaluateReport {
  params: Omit<WatchParams, 'slos' | 'scrapeMs'> & { settleMs: number };
  traces: Array<{
    file: string;
    /** As recorded. */
    header: TraceHeader;
    recordedScrapeMs: number;
    /** The interval the trace was replayed at (--scrape-interval, else the recorded one). */
    replayedScrapeMs: number;
    faults: TraceFault[];
    results: Partial<Record<BaselineMethod, Evaluation>>;
  }>;
  /** Per method, over every trace: each target met or not, with its figure. */
  targets: Partial<Record<BaselineMethod, TargetVerdicts>>;
}

export interface TargetVerdicts {
  detection: { met: boolean; faults: number; detectedInTime: number; noEffect: number; worstDelayScrapes: number | null };
  /**
   * `met`: shown (the 95 % upper bound of the rate is within the target); `consistent`: the rate
   * seen is within it but the clean time is too short to show it; `not met`: the rate seen is above it.
   */
  falseAlarms: {
    verdict: 'met' | 'consistent' | 'not met';
    count: number;
    cleanMs: number;
    perDay: number | null;
    upperPerDay: number | null;
  };
  lagLead: { met: boolean; breaches: number; shortestLeadMs: number | null };
}

/** Reads each trace, replays it with the options' parameters (one run per method), measures it against its faults. */
export function evaluateTraces(files: readonly string[], o: EvaluateOptions, cfg: TxmonConfig): EvaluateReport {
  const base = watchParams(cfg);
  const detector = {
    ...base.detector,
    windowMs: o.window ?? base.detector.windowMs,
    threshold: o.threshold ?? base.detector.threshold,
    persist: o.persist ?? base.detector.persist,
    minPoints: o.minPoints ?? base.detector.minPoints,
  };
  const params = {
    ...base,
    detector,
    incidents: { groupMs: o.group ?? base.incidents.groupMs, quietMs: o.quiet ?? base.incidents.quietMs },
    horizonMs: o.horizon ?? base.horizonMs,
    forecastPoints: o.forecastPoints ?? base.forecastPoints,
  };
  const settleMs = o.settle ?? 60_000;
  const methods: BaselineMethod[] = o.method === undefined || o.method === 'both' ? ['robust', 'zscore'] : [o.method];
  const traces: EvaluateReport['traces'] = files.map((file) => {
    let recorded: Trace;
    try {
      recorded = readTrace(readFileSync(file));
    } catch (err) {
      throw new InputError(`${file}: ${(err as Error).message}`, err);
    }
    const trace = o.scrapeInterval === undefined ? recorded : atInterval(file, recorded, o.scrapeInterval);
    const results: Partial<Record<BaselineMethod, Evaluation>> = {};
    for (const method of methods)
      results[method] = evaluateTrace(
        trace,
        { ...params, detector: { ...detector, method }, slos: trace.header.slos, scrapeMs: trace.header.scrapeMs },
        { settleMs },
      );
    return {
      file,
      header: recorded.header,
      recordedScrapeMs: recorded.header.scrapeMs,
      replayedScrapeMs: trace.header.scrapeMs,
      faults: [...trace.faults],
      results,
    };
  });
  const targets: EvaluateReport['targets'] = {};
  for (const method of methods) {
    const evals = traces.map((t) => t.results[method] as Evaluation);
    const faults = evals.flatMap((e) => e.faults).filter((f) => !f.beforeScoring);
    const seen = faults.filter((f) => f.effectAt !== null);
    const inTime = seen.filter((f) => f.delayScrapes !== null && f.delayScrapes <= EVALUATE_TARGETS.delayScrapes);
    const delays = seen.map((f) => (f.delayScrapes === null ? Infinity : f.delayScrapes));
    const count = evals.reduce((n, e) => n + e.falseAlarms.length, 0);
    const cleanMs = evals.reduce((n, e) => n + e.cleanMs, 0);
    const perDay = cleanMs === 0 ? null : (count * 86_400_000) / cleanMs;
    const upperPerDay = cleanMs === 0 ? null : (poissonUpper95(count) * 86_400_000) / cleanMs;
    const lag = evals.flatMap((e) => e.breaches).filter((b) => b.series.includes('lag'));
    const leads = lag.map((b) => b.leadMs ?? 0);
    targets[method] = {
      detection: {
        met: seen.length > 0 && inTime.length === seen.length,
        faults: faults.length,
        detectedInTime: inTime.length,
        noEffect: faults.length - seen.length,
        worstDelayScrapes: delays.length === 0 ? null : Math.max(...delays) === Infinity ? null : Math.max(...delays),
      },
      falseAlarms: {
        verdict:
          perDay === null || perDay > EVALUATE_TARGETS.falseAlarmsPerDay
            ? 'not met'
            : (upperPerDay as number) <= EVALUATE_TARGETS.falseAlarmsPerDay
              ? 'met'
              : 'consistent',
        count,
        cleanMs,
        perDay,
        upperPerDay,
      },
      lagLead: {
        met: lag.length > 0 && leads.every((l) => l >= EVALUATE_TARGETS.lagLeadMs),
        breaches: lag.length,
        shortestLeadMs: leads.length === 0 ? null : Math.min(...leads),
      },
    };
  }
  const { slos: _s, scrapeMs: _m, ...shown } = params;
  return { params: { ...shown, settleMs }, traces, targets };
}

/**
 * The trace as if scraped every `intervalMs` (--scrape-interval): every k-th round's raw samples read
 * again, k the interval over the recorded one, keeping the metrics the engine watches.
 */
function atInterval(file: string, trace: Trace, intervalMs: number): Trace {
  const recordedMs = trace.header.scrapeMs;
  const asked = `--scrape-interval ${intervalMs / 1_000} s`;
  if (!trace.raw)
    throw new InputError(
      `${file}: ${asked}: the trace is ${TRACE_FORMAT}, which keeps derived values only: it replays only at its recorded ${recordedMs / 1_000} s (a ${RAW_TRACE_FORMAT} trace keeps the raw samples)`,
    );
  const every = Math.round(intervalMs / recordedMs);
  // A tolerance for durations given in fractions (1.1s is 1100.0000000000002 ms).
  if (every < 1 || Math.abs(every * recordedMs - intervalMs) > 1e-6)
    throw new InputError(`${file}: ${asked} is not a whole multiple of the trace's recorded interval, ${recordedMs / 1_000} s`);
  // The faults' effect metrics too, watched or not, so a fault's effect is seen (the engine scores only the watched).
  const kept = new Set<string>([
    ...WATCHED_METRICS,
    ...trace.header.slos.map((s) => s.metric),
    ...trace.faults.map((f) => f.effect),
  ]);
  try {
    return resample(trace, every, (name) => kept.has(name), shareBy);
  } catch (err) {
    // A round without raw samples (a hand-made file): the file's fault, not the command's.
    if (err instanceof RangeError) throw new InputError(`${file}: ${err.message}`, err);
    throw err;
  }
}

/**
 * The one-sided 95 % upper bound of a Poisson mean after `k` events: −ln 0.05 ≈ 3.0 for none (the
 * rule of three), else Wilson and Hilferty's approximation of the χ² quantile (within 1 % from k = 1).
 */
export function poissonUpper95(k: number): number {
  if (k === 0) return -Math.log(0.05);
  const n = k + 1;
  return n * (1 - 1 / (9 * n) + 1.6449 / (3 * Math.sqrt(n))) ** 3;
}

const secs = (ms: number) => `${(ms / 1_000).toFixed(ms < 10_000 ? 1 : 0)} s`;

/** The report as text: per trace and method, each fault's detection, the false alarms and the breach leads; then the targets. */
export function formatEvaluate(r: EvaluateReport): string {
  const d = r.params.detector;
  const lines = [
    `parameters: window ${secs(d.windowMs)}, threshold ${d.threshold}, ${d.persist} in a row, ${d.minPoints} points first; incidents grouped within ${secs(r.params.incidents.groupMs)}, closed after ${secs(r.params.incidents.quietMs)} quiet; forecast over ${r.params.forecastPoints} points, horizon ${secs(r.params.horizonMs)}; a fault's recovery counted for ${secs(r.params.settleMs)} after it`,
  ];
  for (const t of r.traces) {
    const any = Object.values(t.results)[0] as Evaluation;
    lines.push(
      '',
      `${t.file}: ${any.rounds} rounds replayed ${secs(t.replayedScrapeMs)} apart, recorded ${secs(t.recordedScrapeMs)} apart (${(((any.rounds - 1) * t.replayedScrapeMs) / 60_000).toFixed(1)} min), commit ${t.header.commit}: ${t.header.description}`,
    );
    for (const [method, e] of Object.entries(t.results) as Array<[BaselineMethod, Evaluation]>) {
      lines.push(`  ${method}:`);
      for (const f of e.faults) {
        const what = f.beforeScoring
          ? `over ${secs(e.scoringFrom - f.end)} before the detectors could score (the warm-up): not measured`
          : f.effectAt === null
            ? `no effect on its metric seen${f.detectedAt === null ? '' : `; flagged ${secs(f.detectedAt - f.start)} after the start`}`
            : f.detectedAt === null
              ? `effect ${secs(f.effectAt - f.start)} after the start, NOT detected`
              : `effect ${secs(f.effectAt - f.start)} after the start, detected ${f.delayScrapes} scrape${Math.abs(f.delayScrapes ?? 0) === 1 ? '' : 's'} after it; first mover ${f.firstMover}`;
        lines.push(`    ${f.name.padEnd(16)} ${what}`);
      }
      lines.push(
        `    false alarms: ${e.falseAlarms.length} in ${(e.cleanMs / 60_000).toFixed(1)} min of clean traffic${e.falseAlarmsPerDay === null ? '' : ` (${e.falseAlarmsPerDay.toFixed(1)} per day)`}`,
      );
      for (const a of e.falseAlarms)
        lines.push(
          `      at +${secs(a.at - e.scoringFrom)} after scoring began: ${a.firstMover}${a.series.length > 1 ? ` and ${a.series.length - 1} more` : ''}`,
        );
      for (const b of e.breaches)
        lines.push(
          `    breach of ${b.series} (limit ${b.limit}): ${b.leadMs === null ? 'NOT predicted' : `predicted ${secs(b.leadMs)} ahead`}`,
        );
      lines.push(`    predictions: ${e.predictions}, withdrawn before a breach: ${e.withdrawnPredictions}`);
    }
  }
  lines.push('', 'targets (issue 21), over every trace:');
  for (const [method, v] of Object.entries(r.targets) as Array<[BaselineMethod, TargetVerdicts]>) {
    const mark = (ok: boolean) => (ok ? 'met' : 'NOT met');
    lines.push(
      `  ${method}: detection within ${EVALUATE_TARGETS.delayScrapes} scrapes of the effect: ${v.detection.faults === v.detection.noEffect ? 'not measured' : mark(v.detection.met)} (${v.detection.detectedInTime} of ${v.detection.faults - v.detection.noEffect} faults with a visible effect${v.detection.noEffect > 0 ? `; ${v.detection.noEffect} without` : ''})`,
      `  ${method}: at most ${EVALUATE_TARGETS.falseAlarmsPerDay} false alarm per day of clean traffic: ${falseAlarmWords(v.falseAlarms)}`,
      `  ${method}: lag breaches predicted at least ${secs(EVALUATE_TARGETS.lagLeadMs)} ahead: ${
        v.lagLead.breaches === 0
          ? 'not measured (no lag breach in these traces)'
          : `${mark(v.lagLead.met)} (${v.lagLead.breaches} breach${v.lagLead.breaches === 1 ? '' : 'es'}${v.lagLead.shortestLeadMs === null ? '' : `, shortest lead ${secs(v.lagLead.shortestLeadMs)}`})`
      }`,
    );
  }
  return `${lines.join('\n')}\n`;
}

function falseAlarmWords(f: TargetVerdicts['falseAlarms']): string {
  const seen = `${f.count} in ${(f.cleanMs / 60_000).toFixed(1)} min`;
  if (f.perDay === null || f.upperPerDay === null) return 'NOT met (no clean time)';
  const bound = `95 % upper bound ${f.upperPerDay.toFixed(f.upperPerDay < 10 ? 2 : 0)} per day`;
  if (f.verdict === 'not met') return `NOT met (${seen}: ${f.perDay.toFixed(1)} per day)`;
  if (f.verdict === 'met') return `met (${seen}; ${bound})`;
  const days = (poissonUpper95(f.count) / EVALUATE_TARGETS.falseAlarmsPerDay).toFixed(1);
  return `consistent, not shown (${seen}; ${bound}: ${days} days of clean traffic with no more alarms would show it)`;
}

export function evaluateCommand(files: readonly string[], o: EvaluateOptions, cfg: TxmonConfig): string {
  const report = evaluateTraces(files, o, cfg);
  return o.json ? `${JSON.stringify(report)}\n` : formatEvaluate(report);
}
