/**
 * Where a series is heading: Holt's linear trend (double exponential smoothing), the smoothing
 * constants chosen by the smallest one-step-ahead squared error over the series, and the time until
 * the forecast crosses a limit (an SLO), with an interval from the one-step errors' variance
 * (Hyndman and Athanasopoulos, Forecasting: Principles and Practice, 8.7: the variance of Holt's h-step
 * forecast). Pure (issue 21: ops-watch's time-to-SLO-breach).
 *
 * Why Holt: lag, latency p99 and DLQ rate before an incident mostly climb (a level and a slope); a
 * damped or seasonal model needs more history than the minutes ahead of a breach give, and a
 * straight line fitted by least squares weights the stale past as much as the last minutes.
 */

export interface HoltFit {
  readonly alpha: number;
  readonly beta: number;
  /** The level and trend (per step) after the last point. */
  readonly level: number;
  readonly trend: number;
  /** Variance of the one-step-ahead errors (0 when fewer than 3 points). */
  readonly sigma2: number;
  /** Points fitted. */
  readonly n: number;
}

/** Holt's recursions with given constants (the series at evenly spaced steps; at least 2 points). */
export function holt(values: readonly number[], alpha: number, beta: number): HoltFit {
  if (values.length < 2) throw new RangeError(`Holt's method needs at least 2 points, got ${values.length}`);
  let level = values[0] as number;
  let trend = (values[1] as number) - level;
  let sse = 0;
  for (let i = 1; i < values.length; i++) {
    const y = values[i] as number;
    const err = y - (level + trend);
    if (i > 1) sse += err * err; // the first step's forecast is the initial trend itself: no error
    const prevLevel = level;
    level = alpha * y + (1 - alpha) * (level + trend);
    trend = beta * (level - prevLevel) + (1 - beta) * trend;
  }
  const errors = values.length - 2;
  return { alpha, beta, level, trend, sigma2: errors > 0 ? sse / errors : 0, n: values.length };
}

const ALPHAS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];
const BETAS = [0.05, 0.1, 0.2, 0.3, 0.4, 0.5];

/** Holt's fit with the (alpha, beta) of a grid that gives the smallest one-step squared error. */
export function fitHolt(values: readonly number[]): HoltFit {
  let best: HoltFit | null = null;
  for (const a of ALPHAS)
    for (const b of BETAS) {
      const f = holt(values, a, b);
      if (best === null || f.sigma2 < best.sigma2) best = f;
    }
  return best as HoltFit;
}

/** The forecast h steps ahead and its variance. */
export function forecastAt(fit: HoltFit, h: number): { mean: number; variance: number } {
  const { alpha: a, beta: b } = fit;
  const variance = fit.sigma2 * (1 + (h - 1) * (a * a + a * b * h + (b * b * h * (2 * h - 1)) / 6));
  return { mean: fit.level + h * fit.trend, variance };
}

/** When a rising forecast reaches `limit`: steps ahead, expected and the interval's earliest and latest. */
export interface Breach {
  /** Steps until the forecast's mean reaches the limit. */
  readonly expected: number;
  /** Steps until the interval's upper bound reaches it (the earliest plausible breach). */
  readonly earliest: number;
  /** Steps until the lower bound reaches it; null when that is beyond the horizon. */
  readonly latest: number | null;
}

/**
 * The breach of `limit` from below within `horizon` steps, or null when the forecast's mean does not
 * reach it by then (or the series is at or above it already: that is an anomaly, not a forecast).
 * `z` is the interval's width in standard deviations (1.96: 95 %).
 */
export function timeToBreach(fit: HoltFit, limit: number, horizon: number, z = 1.96): Breach | null {
  if (fit.level >= limit) return null;
  let expected: number | null = null;
  let earliest: number | null = null;
  let latest: number | null = null;
  for (let h = 1; h <= horizon; h++) {
    const { mean, variance } = forecastAt(fit, h);
    const sd = Math.sqrt(variance);
    if (earliest === null && mean + z * sd >= limit) earliest = h;
    if (expected === null && mean >= limit) expected = h;
    if (latest === null && mean - z * sd >= limit) latest = h;
    if (latest !== null) break;
  }
  if (expected === null) return null;
  return { expected, earliest: earliest ?? expected, latest };
}

/**
 * Whether a breach of `limit` is still plausible within `horizon` steps: the series is at or above
 * it, or the interval's upper bound reaches it. What keeps a standing prediction: it is made on the
 * expected forecast and withdrawn only when even the upper bound no longer reaches the limit.
 */
export function breachPlausible(fit: HoltFit, limit: number, horizon: number, z = 1.96): boolean {
  if (fit.level >= limit) return true;
  for (let h = 1; h <= horizon; h++) {
    const { mean, variance } = forecastAt(fit, h);
    if (mean + z * Math.sqrt(variance) >= limit) return true;
  }
  return false;
}
