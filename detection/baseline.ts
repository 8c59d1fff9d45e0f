/**
 * Training distributions and drift. Pure.
 *
 * A model keeps, per feature and for its score, 101 quantiles of the training values (p0..p100) and
 * the share of missing values. From them: the percentile of a live value (for explanations), and
 * the population stability index of a live sample against training, over the training deciles.
 */
import { quantileSorted } from 'simple-statistics';

export interface Distribution {
  /** p0, p1, ..., p100 of the present values; empty when no value was present. */
  readonly quantiles: number[];
  /** Share of values that were missing (NaN). */
  readonly missing: number;
  readonly count: number;
}

export interface Baseline {
  readonly features: Record<string, Distribution>;
  readonly score: Distribution;
}

/** The distribution of a sample (NaN = missing). */
export function distributionOf(values: ArrayLike<number>): Distribution {
  const present: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (!Number.isNaN(v)) present.push(v);
  }
  present.sort((a, b) => a - b);
  const quantiles = present.length === 0 ? [] : Array.from({ length: 101 }, (_, p) => quantileSorted(present, p / 100));
  return { quantiles, missing: values.length === 0 ? 0 : 1 - present.length / values.length, count: values.length };
}

/**
 * Share of training values at or below `v`, in [0, 1], interpolated between the stored percentiles
 * (null when the value is missing or training had no value).
 */
export function percentileOf(d: Distribution, v: number): number | null {
  const q = d.quantiles;
  if (Number.isNaN(v) || q.length === 0) return null;
  if (v < (q[0] as number)) return 0;
  if (v >= (q[100] as number)) return 1;
  let lo = 0;
  let hi = 100;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if ((q[mid] as number) <= v) lo = mid;
    else hi = mid;
  }
  // Ties: q[lo] <= v < q[hi]; a run of equal quantiles up to lo means v is at least that high.
  const a = q[lo] as number;
  const b = q[hi] as number;
  return (lo + (b > a ? (v - a) / (b - a) : 0)) / 100;
}

const EPS = 1e-4;

/** Bin edges for PSI: the distinct inner deciles of the training distribution. */
function edges(d: Distribution): number[] {
  const out: number[] = [];
  for (let p = 10; p < 100; p += 10) {
    const e = d.quantiles[p] as number;
    if (out.length === 0 || e > (out[out.length - 1] as number)) out.push(e);
  }
  return out;
}

/** Shares of `values` per bin (value < edge[0], ..., ≥ last edge), plus the missing share last. */
function shares(values: ArrayLike<number>, e: number[]): number[] {
  const counts = new Array<number>(e.length + 2).fill(0);
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (Number.isNaN(v)) {
      counts[e.length + 1] = (counts[e.length + 1] as number) + 1;
      continue;
    }
    let b = 0;
    while (b < e.length && v >= (e[b] as number)) b++;
    counts[b] = (counts[b] as number) + 1;
  }
  return counts.map((c) => (values.length === 0 ? 0 : c / values.length));
}

/** Training shares per bin, from the quantiles (what `shares` would give on the training sample). */
function expectedShares(d: Distribution, e: number[]): number[] {
  const present = 1 - d.missing;
  const out: number[] = [];
  let prev = 0;
  for (const edge of e) {
    // Share of training values below the edge: the lowest percentile whose quantile reaches it.
    let p = 0;
    while (p < 100 && (d.quantiles[p] as number) < edge) p++;
    out.push(((p - prev) / 100) * present);
    prev = p;
  }
  out.push(((100 - prev) / 100) * present);
  out.push(d.missing);
  return out;
}

/**
 * Population stability index of `values` against the training distribution:
 * Σ (actual − expected) · ln(actual / expected) over the training deciles and the missing share,
 * shares floored at 1e-4. Below 0.1 is usually read as stable, above 0.25 as a significant shift.
 * 0 when training had no present value and the sample has none either.
 */
export function psi(d: Distribution, values: ArrayLike<number>): number {
  if (values.length === 0) return 0;
  let expected: number[];
  let actual: number[];
  if (d.quantiles.length === 0) {
    // Training saw only missing values: compare the present/missing split alone.
    let missing = 0;
    for (let i = 0; i < values.length; i++) if (Number.isNaN(values[i] as number)) missing++;
    expected = [0, 1];
    actual = [1 - missing / values.length, missing / values.length];
  } else {
    const e = edges(d);
    expected = expectedShares(d, e);
    actual = shares(values, e);
  }
  let sum = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = Math.max(actual[i] as number, EPS);
    const x = Math.max(expected[i] as number, EPS);
    sum += (a - x) * Math.log(a / x);
  }
  return sum;
}
