/**
 * ops-watch's engine, one scrape round at a time: every target's `/metrics` text becomes derived
 * series (ops/exposition.ts), each watched series has its own detector (ops/detector.ts), the
 * flagged ones are grouped into incidents (ops/incidents.ts), and the series an SLO names are
 * projected forward into a time to breach (ops/forecast.ts). Pure: the processor does the
 * scraping and the output; a recorded trace replays through the same code.
 */
import { Detector, type DetectorParams } from './detector.ts';
import { derive, MIN_SHARE_TRIALS, readScrape, type Scrape } from './exposition.ts';
import { breachPlausible, fitHolt, timeToBreach } from './forecast.ts';
import { IncidentTracker, type FlaggedSeries, type Incident, type IncidentChange, type IncidentParams } from './incidents.ts';

/**
 * A gauge with an SLO limit (the lags) is not scored against a scale below this share of its limit:
 * at a low rate the lag is mostly 0 with a batch in flight now and then (median and MAD 0), and
 * any record waiting would otherwise be unusual. With the threshold at 5, a lag must move by 1 % of
 * its limit to be flagged (1,000 records at the default 100,000).
 */
export const SLO_GAUGE_SCALE_SHARE = 0.002;

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
   * A key `name{label="value"}` is for that metric's series with that label and comes before the
   * metric's own entry.
   */
  readonly bad?: Readonly<Record<string, 'up' | 'down'>>;
  /**
   * Counters read as the share of each value of a label among all of them (ops/exposition.ts
   * derive), not as rates: by metric, the label (ops/watch-list.ts SHARE_BY). Absent: none.
   */
  readonly shares?: Readonly<Record<string, string>>;
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

/** One target's scrape parsed (ops/exposition.ts `readScrape`), or null when it could not be read. */
export interface ParsedScrape {
  readonly target: string;
  readonly scrape: Scrape | null;
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

/** One derived value of a round, as the detectors see it (and as a recorded trace keeps it). */
export interface RoundPoint {
  /** The target the value was scraped from. */
  readonly target: string;
  /** `<target>:<derived key>`: one detector per key. */
  readonly key: string;
  /** The metric's name (`up` for a target's reachability). */
  readonly name: string;
  readonly as: 'gauge' | 'rate' | 'p99' | 'share';
  readonly value: number;
  /** A p99's histogram bucket bounds (its resolution). */
  readonly bounds?: readonly number[];
}

/**
 * Scrape texts to round points: each target's `up` (1 answered, 0 not) and the derived values of
 * the metrics in `keep` (ops/exposition.ts), the previous scrape of each target kept for rates and
 * p99s. What ops-watch and the trace recorder share; the engine scores the points.
 */
export class ScrapeReader {
  private readonly last = new Map<string, Scrape>();

  /** `shareBy`: the counters read as shares of a label's values (ops/exposition.ts derive), not rates (default: none). */
  constructor(
    private readonly keep: (name: string) => boolean,
    private readonly shareBy: (name: string) => string | undefined = () => undefined,
  ) {}

  /** A round's scrape texts, parsed as taken at `time`, to its points. */
  read(time: number, scrapes: readonly TargetScrape[]): RoundPoint[] {
    return this.readScrapes(
      time,
      scrapes.map(({ target, text }) => ({ target, scrape: text === null ? null : readScrape(text, time) })),
    );
  }

  /** A round's parsed scrapes (each taken at `time`) to its points: what a trace's raw samples replay through. */
  readScrapes(time: number, scrapes: readonly ParsedScrape[]): RoundPoint[] {
    const points: RoundPoint[] = [];
    for (const { target, scrape } of scrapes) {
      points.push({ target, key: `${target}:up`, name: 'up', as: 'gauge', value: scrape === null ? 0 : 1 });
      if (scrape === null) continue;
      // Rates are per second of the scrapes' own times: one taken at another time would not be this round's.
      if (scrape.time !== time)
        throw new RangeError(`${target}'s scrape was taken at ${scrape.time}, not at the round's ${time}`);
      for (const d of derive(this.last.get(target) ?? null, scrape, this.shareBy)) {
        if (!this.keep(d.name)) continue;
        const as = d.key.startsWith('rate(')
          ? 'rate'
          : d.key.startsWith('p99(')
            ? 'p99'
            : d.key.startsWith('share(')
              ? 'share'
              : 'gauge';
        points.push({
          target,
          key: `${target}:${d.key}`,
          name: d.name,
          as,
          value: d.value,
          ...(d.bounds && { bounds: d.bounds }),
        });
      }
      this.last.set(target, scrape);
    }
    return points;
  }
}

interface SeriesState {
  readonly detector: Detector;
  runStartedAt: number;
  /** Rounds in a row whose forecast no longer reaches the limit (a standing prediction is withdrawn at `persist`). */
  misses: number;
  readonly recent: number[];
}

export class OpsWatchEngine {
  private readonly reader: ScrapeReader;
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
    this.reader = new ScrapeReader(
      (name) => this.watched.has(name) || params.slos.some((s) => s.metric === name),
      (name) => params.shares?.[name],
    );
  }

  /** A new series' state, its detector given a 0 at each of `zerosAt` (ascending times). */
  private seriesState(key: string, point: Pick<RoundPoint, 'as' | 'bounds' | 'name'>, zerosAt: readonly number[]): SeriesState {
    // A counter's rate is a count per scrape interval: the counting noise is its scale's floor; a
    // histogram's p99 is read at its buckets' resolution: the bucket's width is.
    const base = this.params.detector;
    // A share is of at least MIN_SHARE_TRIALS events: its binomial noise there is its floor (a
    // share of more events is steadier; the floor then errs on the side of fewer alarms). A gauge
    // with an SLO limit: a share of its limit is (SLO_GAUGE_SCALE_SHARE).
    const gaugeLimit =
      point.as === 'gauge' ? this.params.slos.find((l) => l.as === 'gauge' && l.metric === point.name)?.limit : undefined;
    const params =
      point.as === 'rate'
        ? { ...base, countSeconds: this.params.scrapeMs / 1_000 }
        : point.as === 'p99' && point.bounds !== undefined
          ? { ...base, bounds: point.bounds }
          : point.as === 'share'
            ? { ...base, trials: MIN_SHARE_TRIALS }
            : gaugeLimit !== undefined
              ? { ...base, minScale: Math.max(base.minScale, gaugeLimit * SLO_GAUGE_SCALE_SHARE) }
              : base;
    const s: SeriesState = { detector: new Detector(params), runStartedAt: 0, misses: 0, recent: [] };
    for (const t of zerosAt) s.detector.push(t, 0);
    this.series.set(key, s);
    return s;
  }

  /** The incident open now, if any. */
  get openIncident(): Incident | null {
    return this.tracker.current;
  }

  /**
   * One round: every target's scrape at `time`, plus points and flags from elsewhere (the log
   * templates' series and the templates first seen this round: ops/log-watch.ts).
   */
  observe(
    time: number,
    scrapes: readonly TargetScrape[],
    more: { points?: readonly RoundPoint[]; flagged?: readonly FlaggedSeries[] } = {},
  ): WatchStep {
    const points = this.reader.read(time, scrapes);
    return this.observePoints(time, more.points === undefined ? points : points.concat(more.points), more.flagged);
  }

  /**
   * One round of points (what `observe` derives from scrapes, or a recorded trace's round), and
   * series flagged by their own rule rather than a detector (a log template seen for the first time).
   */
  observePoints(time: number, points: readonly RoundPoint[], flaggedElsewhere: readonly FlaggedSeries[] = []): WatchStep {
    const values: RoundPoint[] = [];
    const answeredNow = new Set<string>();
    for (const p of points) {
      if (p.name === 'up') {
        values.push(p);
        if (p.value === 1) answeredNow.add(p.target);
        continue;
      }
      if (!this.watched.has(p.name) && !this.params.slos.some((s) => s.metric === p.name)) continue;
      // A counter seen for the first time was 0 at every earlier scrape of its target (in the
      // window): its baseline is those zeros, so its first increments are scored against them.
      if (p.as === 'rate' && !this.series.has(p.key)) this.seriesState(p.key, p, (this.answered.get(p.target) ?? []).slice(1)); // no rate at the first scrape
      values.push(p);
    }
    for (const target of answeredNow) {
      const answered = this.answered.get(target) ?? [];
      this.answered.set(target, answered);
      answered.push(time);
      while (answered.length > 0 && (answered[0] as number) < time - this.params.detector.windowMs) answered.shift();
    }
    const flagged: FlaggedSeries[] = [];
    const predictions: Prediction[] = [];
    const cleared: string[] = [];
    for (const point of values) {
      const { key, name, as, value } = point;
      const s = this.series.get(key) ?? this.seriesState(key, point, []);
      const p = s.detector.push(time, value);
      if (p.run === 1) s.runStartedAt = time;
      const bad = name === 'up' ? 'down' : badDirection(this.params.bad, name, key);
      const wrongWay = (bad === 'up' && p.score < 0) || (bad === 'down' && p.score > 0);
      if (p.flagged && !wrongWay && (this.watched.has(name) || name === 'up'))
        flagged.push({ key, startedAt: s.runStartedAt, value, baseline: p.baseline as number, score: p.score });
      s.recent.push(value);
      if (s.recent.length > this.params.forecastPoints) s.recent.shift();
      const slo = this.params.slos.find((x) => x.metric === name && x.as === as);
      if (slo === undefined) continue;
      if (s.recent.length < this.params.forecastPoints) continue;
      const fit = fitHolt(s.recent);
      const horizon = Math.ceil(this.params.horizonMs / this.params.scrapeMs);
      if (this.predicted.has(key)) {
        // A standing prediction is withdrawn after `persist` rounds in a row in which even the
        // forecast interval's upper bound no longer reaches the limit (a lag that climbs in steps
        // has flat fits between its steps: recorded traces withdrew a prediction 1 s before its breach).
        s.misses = breachPlausible(fit, slo.limit, horizon) ? 0 : s.misses + 1;
        if (s.misses >= this.params.detector.persist) {
          this.predicted.delete(key);
          cleared.push(key);
        }
        continue;
      }
      const breach = timeToBreach(fit, slo.limit, horizon);
      if (breach !== null && p.flagged && p.score > 0) {
        // Evidence first: a breach is said only for a series itself flagged as climbing, not for
        // any noisy series whose last points happen to trend toward its limit (recorded traces:
        // 662 of 664 such forecasts were withdrawn before any breach).
        this.predicted.add(key);
        s.misses = 0;
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
    for (const f of flaggedElsewhere) if (!flagged.some((g) => g.key === f.key)) flagged.push(f);
    return { time, points: values.length, flagged, incidents: this.tracker.observe(time, flagged), predictions, cleared };
  }
}

/** The way a series' move is trouble: its `name{label="value"}` entry if one matches, else its metric's. */
export function badDirection(
  bad: Readonly<Record<string, 'up' | 'down'>> | undefined,
  name: string,
  key: string,
): 'up' | 'down' | undefined {
  if (bad === undefined) return undefined;
  for (const [selector, way] of Object.entries(bad)) {
    const brace = selector.indexOf('{');
    if (brace > 0 && selector.slice(0, brace) === name && key.includes(selector.slice(brace + 1, -1))) return way;
  }
  return bad[name];
}
