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

/** One derived point: the series' key as watched (`rate(…)`, `p99(…)`, or the gauge's own) and its value. */
export interface Derived {
  readonly key: string;
  /** The metric's name (what a watch list selects on). */
  readonly name: string;
  readonly value: number;
  /** A histogram's p99: its buckets' finite upper bounds (the resolution the quantile is read at). */
  readonly bounds?: readonly number[];
}

/**
 * The values between two scrapes of one target: gauges from `cur`, counters' rates and histograms'
 * p99 over the interval. With no `prev` (the target's first scrape) there is no rate; a counter absent
 * from `prev` counts from 0; a histogram with no observation in the interval gives no p99 (a gap, not
 * a zero latency).
 */
export function derive(prev: Scrape | null, cur: Scrape): Derived[] {
  const out: Derived[] = [];
  const seconds = prev ? (cur.time - prev.time) / 1_000 : 0;
  for (const [key, s] of cur.samples) {
    if (s.kind === 'gauge') {
      out.push({ key, name: s.name, value: s.value });
      continue;
    }
    if (!prev || !(seconds > 0)) continue;
    const before = prev.samples.get(key);
    // A labelled counter appears at its first increment (prom-client creates a label set lazily):
    // absent from the target's previous page, it was 0 then.
    if (!before && s.kind === 'counter') {
      out.push({ key: `rate(${key})`, name: s.name, value: s.value / seconds });
      continue;
    }
    if (!before || before.kind !== s.kind) continue;
    if (s.kind === 'counter' && before.kind === 'counter') {
      const increase = s.value >= before.value ? s.value - before.value : s.value;
      out.push({ key: `rate(${key})`, name: s.name, value: increase / seconds });
    } else if (s.kind === 'histogram' && before.kind === 'histogram') {
      const reset = s.count < before.count;
      const old = new Map(before.buckets);
      const delta = s.buckets.map(([le, c]) => [le, reset ? c : c - (old.get(le) ?? 0)] as const);
      const p99 = bucketQuantile(0.99, delta);
      const bounds = s.buckets.map(([le]) => le).filter((le) => le !== Infinity);
      if (p99 !== null) out.push({ key: `p99(${key})`, name: s.name, value: p99, bounds });
    }
  }
  return out;
}
