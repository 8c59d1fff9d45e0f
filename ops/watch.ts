/**
 * ops-watch's engine, one scrape round at a time: every target's `/metrics` text becomes derived
 * series (ops/exposition.ts), each watched series has its own detector (ops/detector.ts), the
 * flagged ones are grouped into incidents (ops/incidents.ts), and the series an SLO names are
 * projected forward into a time to breach (ops/forecast.ts). Pure: the processor does the
 * scraping and the output; a recorded trace replays through the same code.
 */
import { Detector, type DetectorParams } from './detector.ts';
import { derive, readScrape, type Scrape } from './exposition.ts';
import { fitHolt, timeToBreach } from './forecast.ts';
import { IncidentTracker, type FlaggedSeries, type Incident, type IncidentChange, type IncidentParams } from './incidents.ts';

/** A limit on a series: the forecaster says when it will be crossed. */
export interface SloLimit {
  /** The metric, as exported. */
  readonly metric: string;
  /** Which derived value: the gauge itself, a counter's rate per second, a histogram's p99. */
  readonly as: 'gauge' | 'rate' | 'p99';
  /** The value that breaches the SLO (in the derived value's unit: records, per second, seconds). */
  readonly limit: number;
}

export interface WatchParams {
  readonly detector: DetectorParams;
  readonly incidents: IncidentParams;
  /** Metric names watched for anomalies (every derived series of each). */
  readonly metrics: readonly string[];
  /**
   * Which way a metric's move is trouble: `up` (latency, lag, dead letters: a drop is good news),
   * `down` (throughput), or both ways when a metric is not listed. Each target's `up` series is `down`.
   */
  readonly bad?: Readonly<Record<string, 'up' | 'down'>>;
  readonly slos: readonly SloLimit[];
  /** How far ahead a breach becomes a prediction, ms. */
  readonly horizonMs: number;
  /** The scrape interval: one forecast step. */
  readonly scrapeMs: number;
  /** Recent points the forecaster fits (at least 3). */
  readonly forecastPoints: number;
}

/** One target's scrape: its text, or null when it could not be read (its `up` series is then 0). */
export interface TargetScrape {
  readonly target: string;
  readonly text: string | null;
}

/** A forecast breach of an SLO within the horizon. */
export interface Prediction {
  readonly series: string;
  readonly limit: number;
  readonly value: number;
  /** Epoch ms of the expected breach, and the interval's earliest and latest (null: beyond the horizon). */
  readonly expectedAt: number;
  readonly earliestAt: number;
  readonly latestAt: number | null;
}

export interface WatchStep {
  readonly time: number;
  /** Series with a point this round. */
  readonly points: number;
  readonly flagged: readonly FlaggedSeries[];
  readonly incidents: IncidentChange;
  /** Breaches newly forecast this round (a series already predicted is not said again until it clears). */
  readonly predictions: readonly Prediction[];
  /** Series whose forecast breach no longer holds. */
  readonly cleared: readonly string[];
}

interface SeriesState {
  readonly detector: Detector;
  runStartedAt: number;
  readonly recent: number[];
}

export class OpsWatchEngine {
  private readonly last = new Map<string, Scrape>();
  private readonly series = new Map<string, SeriesState>();
  private readonly tracker: IncidentTracker;
  private readonly predicted = new Set<string>();
  private readonly watched: ReadonlySet<string>;
  /** Each target's answered scrape times within the window (the zeros of a counter that appears later). */
  private readonly answered = new Map<string, number[]>();

  constructor(readonly params: WatchParams) {
    if (!(params.forecastPoints >= 3)) throw new RangeError(`forecastPoints must be at least 3, got ${params.forecastPoints}`);
    this.tracker = new IncidentTracker(params.incidents);
    this.watched = new Set(params.metrics);
  }

  /** A new series' state, its detector given a 0 at each of `zerosAt` (ascending times). */
  private seriesState(key: string, zerosAt: readonly number[]): SeriesState {
    const s: SeriesState = { detector: new Detector(this.params.detector), runStartedAt: 0, recent: [] };
    for (const t of zerosAt) s.detector.push(t, 0);
    this.series.set(key, s);
    return s;
  }

  /** The incident open now, if any. */
  get openIncident(): Incident | null {
    return this.tracker.current;
  }

  /** One round: every target's scrape at `time`. */
  observe(time: number, scrapes: readonly TargetScrape[]): WatchStep {
    const values: Array<[string, string, 'gauge' | 'rate' | 'p99', number]> = [];
    for (const { target, text } of scrapes) {
      values.push([`${target}:up`, 'up', 'gauge', text === null ? 0 : 1]);
      if (text === null) continue;
      const cur = readScrape(text, time);
      const answered = this.answered.get(target) ?? [];
      this.answered.set(target, answered);
      for (const d of derive(this.last.get(target) ?? null, cur)) {
        if (!this.watched.has(d.name) && !this.params.slos.some((s) => s.metric === d.name)) continue;
        const as = d.key.startsWith('rate(') ? 'rate' : d.key.startsWith('p99(') ? 'p99' : 'gauge';
        const key = `${target}:${d.key}`;
        // A counter seen for the first time was 0 at every earlier scrape of its target (in the
        // window): its baseline is those zeros, so its first increments are scored against them.
        if (as === 'rate' && !this.series.has(key)) this.seriesState(key, answered.slice(1)); // no rate at the first scrape
        values.push([key, d.name, as, d.value]);
      }
      this.last.set(target, cur);
      answered.push(time);
      while (answered.length > 0 && (answered[0] as number) < time - this.params.detector.windowMs) answered.shift();
    }
    const flagged: FlaggedSeries[] = [];
    const predictions: Prediction[] = [];
    const cleared: string[] = [];
    for (const [key, name, as, value] of values) {
      const s = this.series.get(key) ?? this.seriesState(key, []);
      const p = s.detector.push(time, value);
      if (p.run === 1) s.runStartedAt = time;
      const bad = name === 'up' ? 'down' : this.params.bad?.[name];
      const wrongWay = (bad === 'up' && p.score < 0) || (bad === 'down' && p.score > 0);
      if (p.flagged && !wrongWay && (this.watched.has(name) || name === 'up'))
        flagged.push({ key, startedAt: s.runStartedAt, value, baseline: p.baseline as number, score: p.score });
      s.recent.push(value);
      if (s.recent.length > this.params.forecastPoints) s.recent.shift();
      const slo = this.params.slos.find((x) => x.metric === name && x.as === as);
      if (slo === undefined) continue;
      const breach =
        s.recent.length >= this.params.forecastPoints
          ? timeToBreach(fitHolt(s.recent), slo.limit, Math.ceil(this.params.horizonMs / this.params.scrapeMs))
          : null;
      if (breach === null) {
        if (this.predicted.delete(key)) cleared.push(key);
      } else if (!this.predicted.has(key)) {
        this.predicted.add(key);
        const at = (steps: number) => time + steps * this.params.scrapeMs;
        predictions.push({
          series: key,
          limit: slo.limit,
          value,
          expectedAt: at(breach.expected),
          earliestAt: at(breach.earliest),
          latestAt: breach.latest === null ? null : at(breach.latest),
        });
      }
    }
    return { time, points: values.length, flagged, incidents: this.tracker.observe(time, flagged), predictions, cleared };
  }
}
