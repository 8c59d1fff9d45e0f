/** `txmon ops …`: the ops-watch detector run offline over one exported series. */
import { readFileSync } from 'node:fs';
import { DEFAULT_DETECTOR, scoreSeries, type BaselineMethod, type DetectorParams, type ScoredPoint } from '../ops/detector.ts';
import { readSeriesCsv } from '../ops/series-csv.ts';
import { InputError } from '../platform/errors.ts';

export interface DetectCsvOptions {
  time: string;
  value: string;
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

/** The detector's params from the command's options over the defaults. */
export function detectorParams(o: DetectCsvOptions): DetectorParams {
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

/** Reads the file, runs the detector over the series, returns the report. */
export function detectCsv(file: string, o: DetectCsvOptions, say: (line: string) => void): DetectCsvReport {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new InputError(`cannot read ${file}: ${(err as Error).message}`, err);
  }
  const params = detectorParams(o);
  const series = readSeriesCsv(text, o.time, o.value);
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
