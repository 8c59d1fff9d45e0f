/**
 * A Prometheus histogram for values observed per record on the hot path (issue 17: metrics per
 * batch, not per record). prom-client's Histogram allocates on every observe (a labels-and-value
 * object, the label hash string, the bucket's number turned into a property key) and costs ~0.5 µs:
 * two per transaction were ~200 bytes of the ingest's garbage per transaction (heap sampling,
 * 2026-12-05). Here a label set's series is looked up once (per batch) and observing is an array
 * increment. It registers with a prom-client Registry like any metric and exports what
 * prom-client's Histogram exports for the same observations, text and JSON (tested).
 */
import type { Registry } from 'prom-client';

/** One label set's buckets (not cumulative), sum and count. */
export class HistogramSeries {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    private readonly bounds: readonly number[],
    readonly labels: Readonly<Record<string, string>>,
  ) {
    this.counts = new Float64Array(bounds.length);
  }

  observe(value: number): void {
    if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`);
    this.sum += value;
    this.count++;
    const bounds = this.bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= (bounds[i] as number)) {
        this.counts[i] = (this.counts[i] as number) + 1;
        return;
      }
    }
  }
}

interface MetricValue {
  labels: Record<string, string | number>;
  value: number;
  metricName: string;
}

export class HotHistogram<L extends string = never> {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly name: string;
  readonly help: string;
  private readonly bounds: readonly number[];
  private readonly labelNames: readonly L[];
  private readonly series = new Map<string, HistogramSeries>();

  constructor(o: { name: string; help: string; buckets: readonly number[]; labelNames?: readonly L[]; registers: Registry[] }) {
    if (o.buckets.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= (o.buckets[i - 1] as number))))
      throw new RangeError(`${o.name}: buckets must be finite and ascending`);
    this.name = o.name;
    this.help = o.help;
    this.bounds = [...o.buckets];
    this.labelNames = o.labelNames ?? [];
    // Like prom-client: a histogram without labels exports its zero series before any observation.
    if (this.labelNames.length === 0) this.labels({} as Record<L, string>);
    for (const r of o.registers) r.registerMetric(this as never);
  }

  /** The series of one label set (created on first use); keep it for a batch and observe on it. */
  labels(labels: Readonly<Record<L, string>>): HistogramSeries {
    const values = this.labelNames.map((n) => {
      const v = labels[n];
      if (typeof v !== 'string') throw new TypeError(`${this.name}: label ${n} is missing`);
      return v;
    });
    const key = values.join('\u0000');
    let s = this.series.get(key);
    if (s === undefined) {
      s = new HistogramSeries(this.bounds, Object.fromEntries(this.labelNames.map((n, i) => [n, values[i] as string])));
      this.series.set(key, s);
    }
    return s;
  }

  /** Observes on the series without labels (a histogram declared without label names). */
  observe(value: number): void {
    this.labels({} as Record<L, string>).observe(value);
  }

  /** What prom-client's Registry reads (as Histogram.get gives it). */
  get(): { name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: MetricValue[] } {
    const values: MetricValue[] = [];
    const bucket = `${this.name}_bucket`;
    for (const s of this.series.values()) {
      let acc = 0;
      this.bounds.forEach((le, i) => {
        acc += s.counts[i] as number;
        values.push({ labels: { le, ...s.labels }, value: acc, metricName: bucket });
      });
      values.push({ labels: { le: '+Inf', ...s.labels }, value: s.count, metricName: bucket });
      values.push({ labels: { ...s.labels }, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...s.labels }, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** As prom-client's reset (Registry.resetMetrics): every series goes, the one without labels too, until observed again. */
  reset(): void {
    this.series.clear();
  }
}
