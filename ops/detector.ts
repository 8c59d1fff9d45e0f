/**
 * Anomalies in one metric series: each point scored against the baseline of the points before it
 * (the last `windowMs`), flagged when the score stays beyond `threshold` for `persist` points in a
 * row. Two baselines: `robust` (median and MAD, the modified z-score of Iglewicz and Hoaglin, which
 * the anomalies themselves barely move) and `zscore` (mean and standard deviation, the plain rolling
 * z-score it is compared with). Pure: ops-watch feeds it scrapes, `txmon ops detect-csv` a file.
 */
import { MAD_TO_SIGMA, MEAN_AD_TO_SIGMA, RobustWindow, type WindowStats } from './robust-window.ts';

export type BaselineMethod = 'robust' | 'zscore';

export interface DetectorParams {
  readonly method: BaselineMethod;
  /** How far back the baseline reaches, ms. */
  readonly windowMs: number;
  /** |score| at or beyond which a point is unusual (3.5: Iglewicz and Hoaglin's cut-off for the modified z-score). */
  readonly threshold: number;
  /** Unusual points in a row before they are flagged (1: every unusual point; 2: a blip of one scrape is not). */
  readonly persist: number;
  /** Points the baseline needs before any point is scored. */
  readonly minPoints: number;
  /**
   * The smallest scale (σ estimate) a score divides by, in the series' units: a series that has
   * been flat (a DLQ rate of 0) would otherwise make any change infinitely unusual.
   */
  readonly minScale: number;
  /**
   * The values are a count's rate per second over intervals of this many seconds (a counter's rate
   * between two scrapes): the scale is then at least the counting noise of the window's mean
   * rate m, √(m·s)/s (Poisson), and never below that of one event per interval, 1/s. A rate of
   * rare events (a dead letter now and then: median and MAD 0) is otherwise unusual at every
   * event. Absent: no such floor.
   */
  readonly countSeconds?: number;
  /**
   * The values are shares (0 to 1) of at least this many events each (ops/exposition.ts: a share
   * of decisions of one interval): the scale is then at least the binomial noise of the window's
   * centre c, √(c(1−c)/n), and never below that of one event in n, 1/n. Absent: no such floor.
   */
  readonly trials?: number;
  /**
   * The values are quantiles read from a histogram with these bucket upper bounds (ascending):
   * the scale is then at least the width of the bucket the baseline's centre falls in, the
   * resolution the histogram gives there (a move within one bucket is interpolation, not evidence).
   * Above the last bound the centre itself is the width. Absent: no such floor.
   */
  readonly bounds?: readonly number[];
}

export const DEFAULT_DETECTOR: DetectorParams = Object.freeze({
  method: 'robust',
  windowMs: 60 * 60_000,
  threshold: 3.5,
  persist: 2,
  minPoints: 20,
  minScale: 1e-9,
});

/** One point as the detector saw it. */
export interface ScoredPoint {
  readonly time: number;
  readonly value: number;
  /** The baseline's centre (median or mean) before this point; null while warming up. */
  readonly baseline: number | null;
  /** The scale the deviation was divided by; null while warming up. */
  readonly scale: number | null;
  /** (value - baseline) / scale; 0 while warming up. */
  readonly score: number;
  /** Unusual points in a row, this one included (0 when this one is not unusual). */
  readonly run: number;
  /** Whether this point is flagged: unusual, and the `persist`-th or later in its run. */
  readonly flagged: boolean;
}

/** The centre and scale of a window under a method. */
export function centreAndScale(
  stats: WindowStats,
  p: Pick<DetectorParams, 'method' | 'minScale' | 'countSeconds' | 'bounds' | 'trials'>,
): [number, number] {
  const centre = p.method === 'zscore' ? stats.mean : stats.median;
  const s = p.countSeconds;
  let floor = s !== undefined && s > 0 ? Math.max(p.minScale, Math.sqrt(Math.max(stats.mean * s, 1)) / s) : p.minScale;
  if (p.bounds !== undefined && p.bounds.length > 0) floor = Math.max(floor, bucketWidth(p.bounds, centre));
  const n = p.trials;
  if (n !== undefined && n > 0) {
    const c = Math.min(1, Math.max(0, centre));
    floor = Math.max(floor, Math.sqrt((c * (1 - c)) / n), 1 / n);
  }
  if (p.method === 'zscore') return [centre, Math.max(stats.sd, floor)];
  const scale = stats.mad > 0 ? MAD_TO_SIGMA * stats.mad : MEAN_AD_TO_SIGMA * stats.meanAd;
  return [centre, Math.max(scale, floor)];
}

/** The width of the histogram bucket `x` falls in (bounds ascending, the first bucket from 0; above the last bound: x). */
export function bucketWidth(bounds: readonly number[], x: number): number {
  let lower = 0;
  for (const upper of bounds) {
    if (x <= upper) return upper - lower;
    lower = upper;
  }
  return Math.abs(x);
}

export class Detector {
  private readonly window: RobustWindow;
  private run = 0;
  private lastTime = -Infinity;

  constructor(readonly params: DetectorParams = DEFAULT_DETECTOR) {
    checkParams(params);
    this.window = new RobustWindow(params.windowMs);
  }

  /**
   * Scores a point against the points before it, then adds it to the baseline (an anomaly joins
   * the baseline too: a level shift becomes the new normal after about half a window; the median
   * is not moved by a spike). Times must not go backwards; a non-finite value is refused.
   */
  push(time: number, value: number): ScoredPoint {
    if (!Number.isFinite(value)) throw new RangeError(`value at ${time} is not a finite number: ${value}`);
    if (time < this.lastTime) throw new RangeError(`time ${time} is before the previous point's ${this.lastTime}`);
    this.lastTime = time;
    this.window.evictBefore(time - this.params.windowMs);
    const stats = this.window.size >= this.params.minPoints ? this.window.stats() : null;
    let point: ScoredPoint;
    if (stats === null) {
      this.run = 0;
      point = { time, value, baseline: null, scale: null, score: 0, run: 0, flagged: false };
    } else {
      const [centre, scale] = centreAndScale(stats, this.params);
      const score = (value - centre) / scale;
      this.run = Math.abs(score) >= this.params.threshold ? this.run + 1 : 0;
      point = { time, value, baseline: centre, scale, score, run: this.run, flagged: this.run >= this.params.persist };
    }
    this.window.add(time, value);
    return point;
  }
}

/** Every point of a series, scored (the series in time order). */
export function scoreSeries(
  points: ReadonlyArray<readonly [number, number]>,
  params: DetectorParams = DEFAULT_DETECTOR,
): ScoredPoint[] {
  const d = new Detector(params);
  return points.map(([t, v]) => d.push(t, v));
}

/** Refuses parameters that cannot describe a detector, naming the one at fault. */
export function checkParams(p: DetectorParams): void {
  if (p.method !== 'robust' && p.method !== 'zscore')
    throw new RangeError(`method must be robust or zscore, got ${String(p.method)}`);
  if (!(p.windowMs > 0)) throw new RangeError(`windowMs must be positive, got ${p.windowMs}`);
  if (!(p.threshold > 0)) throw new RangeError(`threshold must be positive, got ${p.threshold}`);
  if (!(Number.isInteger(p.persist) && p.persist >= 1)) throw new RangeError(`persist must be an integer ≥ 1, got ${p.persist}`);
  if (!(Number.isInteger(p.minPoints) && p.minPoints >= 2))
    throw new RangeError(`minPoints must be an integer ≥ 2, got ${p.minPoints}`);
  if (!(p.minScale > 0)) throw new RangeError(`minScale must be positive, got ${p.minScale}`);
  if (p.countSeconds !== undefined && !(p.countSeconds > 0))
    throw new RangeError(`countSeconds must be positive when given, got ${p.countSeconds}`);
  if (p.trials !== undefined && !(p.trials > 0)) throw new RangeError(`trials must be positive when given, got ${p.trials}`);
}
