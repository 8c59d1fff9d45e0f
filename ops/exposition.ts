/**
 * From two scrapes of a Prometheus `/metrics` page to the values ops-watch watches: a gauge as it
 * is, a counter as its rate per second between the scrapes, a histogram as the 0.99 quantile of the
 * observations made between them (histogram_quantile's linear interpolation within a bucket). A
 * counter or histogram that went down was reset (its process restarted): the increase is its new
 * value, as Prometheus's rate() takes it; a counter absent from the previous page was 0 there (a
 * label set appears at its first increment). The text is parsed by parse-prometheus-text-format.
 */
import parse from 'parse-prometheus-text-format';

/** One scrape's samples by series key (`name{label="v",…}`, labels sorted). */
export interface Scrape {
  /** Epoch ms the scrape was taken. */
  readonly time: number;
  readonly samples: ReadonlyMap<string, Sample>;
}

export type Sample =
  | { readonly kind: 'gauge' | 'counter'; readonly name: string; readonly value: number }
  | {
      readonly kind: 'histogram';
      readonly name: string;
      /** [upper bound, cumulative count], ascending by bound, +Inf last. */
      readonly buckets: ReadonlyArray<readonly [number, number]>;
      readonly count: number;
    };

/** A series' key: its name and labels, sorted, as PromQL prints them. */
export function seriesKey(name: string, labels: Record<string, string> | undefined): string {
  const entries = Object.entries(labels ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return entries.length === 0 ? name : `${name}{${entries.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}}`;
}

/** Parses an exposition text taken at `time`; untyped samples count as gauges, summaries are left out. */
export function readScrape(text: string, time: number): Scrape {
  const samples = new Map<string, Sample>();
  for (const family of parse(text)) {
    for (const m of family.metrics) {
      const key = seriesKey(family.name, m.labels);
      if (family.type === 'HISTOGRAM') {
        const buckets = Object.entries(m.buckets ?? {})
          .map(([le, c]) => [le === '+Inf' ? Infinity : Number(le), Number(c)] as const)
          .filter(([le, c]) => !Number.isNaN(le) && Number.isFinite(c))
          .sort((a, b) => a[0] - b[0]);
        samples.set(key, { kind: 'histogram', name: family.name, buckets, count: Number(m.count ?? NaN) });
      } else if (family.type !== 'SUMMARY') {
        const value = Number(m.value);
        if (Number.isFinite(value))
          samples.set(key, { kind: family.type === 'COUNTER' ? 'counter' : 'gauge', name: family.name, value });
      }
    }
  }
  return { time, samples };
}

/** The q-quantile of a histogram's cumulative buckets (histogram_quantile), or null when it holds no observation. */
export function bucketQuantile(q: number, buckets: ReadonlyArray<readonly [number, number]>): number | null {
  const total = buckets.length > 0 ? (buckets[buckets.length - 1] as readonly [number, number])[1] : 0;
  if (!(total > 0)) return null;
  const rank = q * total;
  let prevBound = 0;
  let prevCount = 0;
  for (const [bound, count] of buckets) {
    if (count >= rank) {
      // In the +Inf bucket the best estimate is the highest finite bound, as Prometheus answers.
      if (bound === Infinity) return prevBound;
      if (count === prevCount) return bound;
      return prevBound + ((bound - prevBound) * (rank - prevCount)) / (count - prevCount);
    }
    prevBound = bound;
    prevCount = count;
  }
  return prevBound;
}

/** One derived point: the series' key as watched (`rate(…)`, `p99(…)`, `share(…)`, or the gauge's own) and its value. */
export interface Derived {
  readonly key: string;
  /** The metric's name (what a watch list selects on). */
  readonly name: string;
  readonly value: number;
  /** A histogram's p99: its buckets' finite upper bounds (the resolution the quantile is read at). */
  readonly bounds?: readonly number[];
  /** A share: the increase it is a share of (the events of the interval over every value of its label). */
  readonly trials?: number;
}

/**
 * A share is derived only from at least this many events in the interval: fewer say little about
 * a mix (one REVIEW among ten decisions is a share of 10 %).
 */
export const MIN_SHARE_TRIALS = 100;

/** A series key's labels (the inverse of seriesKey). */
export function labelsOf(key: string): Record<string, string> {
  const brace = key.indexOf('{');
  if (brace < 0) return {};
  const out: Record<string, string> = {};
  // `k="v"` pairs, the values JSON strings (escaped quotes and backslashes inside).
  for (const m of key.slice(brace + 1, -1).matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*")/g))
    out[m[1] as string] = JSON.parse(m[2] as string) as string;
  return out;
}

/**
 * The values between two scrapes of one target: gauges from `cur`, counters' rates and histograms'
 * p99 over the interval. With no `prev` (the target's first scrape) there is no rate; a counter absent
 * from `prev` counts from 0; a histogram with no observation in the interval gives no p99 (a gap, not
 * a zero latency).
 *
 * A counter `shareBy` names a label for is read as shares instead of rates: each series' increase
 * over the increase of every series that differs from it in that label only (`share(…)`, 0 to 1,
 * with the total as `trials`), when that total is at least MIN_SHARE_TRIALS. A share moves when
 * the mix changes (every decision a REVIEW), not when the traffic does.
 */
export function derive(prev: Scrape | null, cur: Scrape, shareBy?: (name: string) => string | undefined): Derived[] {
  const out: Derived[] = [];
  const seconds = prev ? (cur.time - prev.time) / 1_000 : 0;
  // Per group of shared series (the name and the other labels): each series' increase.
  const groups = new Map<string, Array<{ key: string; name: string; increase: number }>>();
  for (const [key, s] of cur.samples) {
    if (s.kind === 'gauge') {
      out.push({ key, name: s.name, value: s.value });
      continue;
    }
    if (!prev || !(seconds > 0)) continue;
    const before = prev.samples.get(key);
    if (s.kind === 'counter' && (!before || before.kind === 'counter')) {
      // A labelled counter appears at its first increment (prom-client creates a label set lazily):
      // absent from the target's previous page, it was 0 then.
      const increase = !before ? s.value : s.value >= before.value ? s.value - before.value : s.value;
      const label = shareBy?.(s.name);
      if (label === undefined) {
        out.push({ key: `rate(${key})`, name: s.name, value: increase / seconds });
        continue;
      }
      const labels = labelsOf(key);
      delete labels[label];
      const group = seriesKey(s.name, labels);
      const members = groups.get(group) ?? [];
      groups.set(group, members);
      members.push({ key, name: s.name, increase });
      continue;
    }
    if (!before || before.kind !== s.kind) continue;
    if (s.kind === 'histogram' && before.kind === 'histogram') {
      const reset = s.count < before.count;
      const old = new Map(before.buckets);
      const delta = s.buckets.map(([le, c]) => [le, reset ? c : c - (old.get(le) ?? 0)] as const);
      const p99 = bucketQuantile(0.99, delta);
      const bounds = s.buckets.map(([le]) => le).filter((le) => le !== Infinity);
      if (p99 !== null) out.push({ key: `p99(${key})`, name: s.name, value: p99, bounds });
    }
  }
  for (const members of groups.values()) {
    const total = members.reduce((sum, m) => sum + m.increase, 0);
    if (!(total >= MIN_SHARE_TRIALS)) continue;
    for (const m of members) out.push({ key: `share(${m.key})`, name: m.name, value: m.increase / total, trials: total });
  }
  return out;
}
