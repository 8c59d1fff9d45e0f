// parse-prometheus-text-format 1.1.1 ships no types; this declares what ops/exposition.ts reads.
// Every number arrives as the exposition's text ("5", "+Inf", "NaN").
declare module 'parse-prometheus-text-format' {
  interface Sample {
    labels?: Record<string, string>;
    value?: string;
    /** Histograms: cumulative counts by upper bound ("0.1", "+Inf"). */
    buckets?: Record<string, string>;
    /** Summaries: values by quantile ("0.99"). */
    quantiles?: Record<string, string>;
    count?: string;
    sum?: string;
  }
  interface Family {
    name: string;
    help: string;
    type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
    metrics: Sample[];
  }
  export default function parsePrometheusTextFormat(text: string): Family[];
}
