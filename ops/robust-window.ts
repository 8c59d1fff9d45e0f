/**
 * A series' recent past as a baseline: the points of the last `windowMs` of time, kept sorted by
 * value so the median and the median absolute deviation cost O(n) per point, not a sort.
 * Pure: no clock, no I/O (issue 21: ops-watch's baselines and `txmon ops detect-csv`).
 */

/** The constant that makes the MAD a consistent estimator of a normal distribution's σ (1 / Φ⁻¹(3/4)). */
export const MAD_TO_SIGMA = 1.4826;
/** The constant that makes the mean absolute deviation one of σ (√(π/2)): the scale when the MAD is 0. */
export const MEAN_AD_TO_SIGMA = 1.2533;

/** The statistics of a window. */
export interface WindowStats {
  readonly n: number;
  readonly median: number;
  /** Median absolute deviation from the median. */
  readonly mad: number;
  /** Mean absolute deviation from the median. */
  readonly meanAd: number;
  readonly mean: number;
  /** Population standard deviation. */
  readonly sd: number;
}

export class RobustWindow {
  /** Arrival order, for eviction by time: [time, value] pairs from `head`. */
  private readonly times: number[] = [];
  private readonly values: number[] = [];
  private head = 0;
  /** The same values, ascending. */
  private readonly sorted: number[] = [];

  constructor(readonly windowMs: number) {
    if (!(windowMs > 0)) throw new RangeError(`windowMs must be positive, got ${windowMs}`);
  }

  get size(): number {
    return this.sorted.length;
  }

  /** Adds a point; points older than `time - windowMs` leave (times must not go backwards). */
  add(time: number, value: number): void {
    this.evictBefore(time - this.windowMs);
    this.times.push(time);
    this.values.push(value);
    this.sorted.splice(upperBound(this.sorted, value), 0, value);
  }

  /** Drops the points with a time < `cutoff`. */
  evictBefore(cutoff: number): void {
    while (this.head < this.times.length && (this.times[this.head] as number) < cutoff) {
      const v = this.values[this.head] as number;
      this.sorted.splice(lowerBound(this.sorted, v), 1);
      this.head++;
    }
    // Compact now and then, so the arrival arrays do not grow with the series.
    if (this.head > 1024 && this.head * 2 > this.times.length) {
      this.times.splice(0, this.head);
      this.values.splice(0, this.head);
      this.head = 0;
    }
  }

  /** The window's statistics, or null when it is empty. */
  stats(): WindowStats | null {
    const s = this.sorted;
    const n = s.length;
    if (n === 0) return null;
    const median = medianOfSorted(s);
    // Summed afresh (O(n), as the MAD is): a running sum over days of adds and evictions would drift.
    let sum = 0;
    let meanAd = 0;
    for (const v of s) {
      sum += v;
      meanAd += Math.abs(v - median);
    }
    const mean = sum / n;
    let ss = 0;
    for (const v of s) ss += (v - mean) * (v - mean);
    return { n, median, mad: madOfSorted(s, median), meanAd: meanAd / n, mean, sd: Math.sqrt(ss / n) };
  }
}

/** The median of an ascending array (non-empty). */
export function medianOfSorted(s: readonly number[]): number {
  const n = s.length;
  const mid = n >> 1;
  return n % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/**
 * The median of |v - median| over an ascending array, without sorting the deviations: those left
 * of the median grow leftwards and those right of it grow rightwards, so walking both sides from
 * the middle merges them in ascending order and the middle ones are the MAD.
 */
export function madOfSorted(s: readonly number[], median: number): number {
  const n = s.length;
  let left = upperBound(s, median) - 1; // last value ≤ median
  let right = left + 1;
  const want = n >> 1; // the index (0-based) in the merged deviations; and want - 1 when n is even
  let prev = 0;
  for (let k = 0; k <= want; k++) {
    let d: number;
    if (right >= n || (left >= 0 && median - (s[left] as number) <= (s[right] as number) - median)) {
      d = median - (s[left] as number);
      left--;
    } else {
      d = (s[right] as number) - median;
      right++;
    }
    if (k === want) return n % 2 === 1 ? d : (prev + d) / 2;
    prev = d;
  }
  return 0; // unreachable: n ≥ 1
}

/** The first index whose value is ≥ v. */
function lowerBound(s: readonly number[], v: number): number {
  let lo = 0;
  let hi = s.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((s[mid] as number) < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The first index whose value is > v. */
function upperBound(s: readonly number[], v: number): number {
  let lo = 0;
  let hi = s.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((s[mid] as number) <= v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
