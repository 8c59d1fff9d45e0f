/**
 * The pure part of `npm run bench`: percentiles, the choice of the fixed offered load, the figures
 * file (`.txmon/bench/latest.json`) built from what was measured, and the verdict on issue 17's
 * targets. No I/O and no clock here, so a unit test can pin each of them (bench/figures.test.ts).
 */

/** The share of the saturation measured in (b) that the fixed-load run may offer at most (issue 17). */
export const SATURATION_SHARE = 0.7;

/** Below this share of the offered rate achieved, the pipeline did not sustain the load: no latency is meaningful. */
export const SUSTAINED_SHARE = 0.95;

/**
 * The nearest-rank percentile of `sorted` (ascending): the smallest value with at least q of the
 * values at or below it. NaN for no values, so a missing figure cannot pass for a fast one.
 */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil(q * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

/** p50, p99 and p99.9 of `values` (any order), in the unit they are given in. */
export function latencyPercentiles(values: ArrayLike<number>): { p50: number; p99: number; p999: number; samples: number } {
  const sorted = Float64Array.from(values).sort();
  return {
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    p999: percentile(sorted, 0.999),
    samples: sorted.length,
  };
}

/**
 * The fixed-load run's offered rate: the requested one (BENCH_FIXED_RATE), or 70 % of the
 * saturation measured in the same run if that is lower, because a latency is only a latency below
 * saturation; above it, it is the growing wait in the topic. The reason is printed beside the rate.
 */
export function chooseOfferedRate(requested: number, saturation: number): { rate: number; capped: boolean; reason: string } {
  const cap = Math.floor(saturation * SATURATION_SHARE);
  if (Number.isFinite(cap) && cap > 0 && cap < requested)
    return {
      rate: cap,
      capped: true,
      reason: `70 % of the saturation measured in (b), ${Math.round(saturation).toLocaleString('en')} tx/s, is below the requested ${requested.toLocaleString('en')} tx/s`,
    };
  return {
    rate: requested,
    capped: false,
    reason: `the requested rate (BENCH_FIXED_RATE); 70 % of the saturation measured in (b) is ${cap.toLocaleString('en')} tx/s`,
  };
}

/** Whether a latency measured at `offered` means anything: the pipeline achieved ≥ 95 % of it. */
export function sustained(offered: number, achieved: number): boolean {
  return offered > 0 && achieved >= SUSTAINED_SHARE * offered;
}

/** Everything the bench measured, in the units it measures them; `buildFigures` names them for the file. */
export interface Measured {
  startedAt: Date;
  node: string;
  commit: { sha: string; dirty: boolean };
  count: number;
  rawRecordsPerS: number;
  naiveTxPerS: number;
  e2eTxPerS: number;
  /** CPU µs per transaction of each process during (b). */
  cpuUsPerTx: Record<string, number>;
  fixed: {
    requested: number;
    offered: number;
    /** Whether the offered rate is 70 % of the saturation (below the requested one). */
    capped: boolean;
    reason: string;
    /** The measured span, and the warm-up produced before it and not measured (the ingest starts cold). */
    seconds: number;
    warmupSeconds: number;
    /** Event → decision committed over every record, the warm-up's too, ms. */
    withWarmup: { p50: number; p99: number; p999: number; samples: number };
    producedPerS: number;
    achievedPerS: number;
    /** Event → decision committed (Kafka), ms. */
    committed: { p50: number; p99: number; p999: number; samples: number };
    /** Event → decision durable in MySQL, ms. */
    durable: { p50: number; p99: number; p999: number; samples: number };
    committedMethod: string;
    durableMethod: string;
    /**
     * CPU of each process over the measured span, in cores (1: one core all the time): the ingest
     * processes summed, each service, and the bench's own process (its producer and probes).
     */
    cpuCores: Record<string, number>;
  };
  peakRssMb: number;
  allocBytesPerTx: number;
  allocMethod: string;
  forestSpeedup: number;
  /** The backtest's compute (bench/backtest.ts), stored decisions decided again per second. */
  backtestTxPerS: number;
  /** bench/logs.ts (issue 22): Drain's parsing speed and grouping accuracy on txmon's own logs. */
  logLinesPerS: number;
  logGroupingAccuracy: number;
  /** The services' state when (c) began (serviceNotes reads it). */
  conditions: ServiceConditions;
}

/**
 * What the services were like when the fixed load began: a young broker JVM (still compiling its
 * hot paths) and a small InnoDB buffer pool each raised (c)'s latencies by half or more on this
 * machine with the same code (docs/performance.md, "The services' state"), so a run says so.
 */
export interface ServiceConditions {
  /** Seconds the youngest broker process had run (null: not found). */
  brokerUptimeS: number | null;
  /** MariaDB's innodb_buffer_pool_size, MB (null: not read). */
  mariadbBufferPoolMb: number | null;
}

/** A broker younger than this is still warming up: its CPU per request fell for ~15 minutes here. */
export const WARM_BROKER_S = 900;
/** A buffer pool below this holds less than one default run's rows and indexes (~0.9 KB a transaction). */
export const BENCH_BUFFER_POOL_MB = 1024;

/** A line per condition that makes (c)'s figures read high (none: the services were warm and roomy). */
export function serviceNotes(c: ServiceConditions): string[] {
  const notes: string[] = [];
  if (c.brokerUptimeS !== null && c.brokerUptimeS < WARM_BROKER_S)
    notes.push(
      `the broker had run ${Math.round(c.brokerUptimeS)} s when (c) began: its JVM still compiles its hot paths for ~${WARM_BROKER_S / 60} minutes, and (c)'s latencies read high until then (run the bench again for a warm broker)`,
    );
  if (c.mariadbBufferPoolMb !== null && c.mariadbBufferPoolMb < BENCH_BUFFER_POOL_MB)
    notes.push(
      `MariaDB's buffer pool is ${Math.round(c.mariadbBufferPoolMb)} MB (innodb_buffer_pool_size): smaller than the rows and indexes one run writes, so InnoDB flushes and reads pages during (c), and its latencies read high (docs/performance.md, "The services' state")`,
    );
  return notes;
}

const round = (v: number, digits = 0) => (Number.isFinite(v) ? Number(v.toFixed(digits)) : null);

/** The figures file's object (issue 17's field names; NaN becomes null, as JSON has no NaN). */
export function buildFigures(m: Measured) {
  const f = m.fixed;
  return {
    started_at: m.startedAt.toISOString(),
    node: m.node,
    commit: m.commit.sha,
    dirty: m.commit.dirty,
    count: m.count,
    raw_records_per_s: round(m.rawRecordsPerS),
    naive_tx_per_s: round(m.naiveTxPerS),
    e2e_tx_per_s: round(m.e2eTxPerS),
    e2e_to_naive: round(m.e2eTxPerS / m.naiveTxPerS, 2),
    e2e_to_raw: round(m.e2eTxPerS / m.rawRecordsPerS, 3),
    cpu_us_per_tx: Object.fromEntries(Object.entries(m.cpuUsPerTx).map(([k, v]) => [k, round(v)])),
    fixed_load: {
      requested_tx_per_s: f.requested,
      offered_tx_per_s: f.offered,
      offered_capped_by_saturation: f.capped,
      offered_reason: f.reason,
      seconds: f.seconds,
      warmup_seconds: f.warmupSeconds,
      produced_tx_per_s: round(f.producedPerS),
      achieved_tx_per_s: round(f.achievedPerS),
      sustained: sustained(f.offered, f.achievedPerS),
      p50_ms: round(f.committed.p50, 1),
      p99_ms: round(f.committed.p99, 1),
      p999_ms: round(f.committed.p999, 1),
      samples: f.committed.samples,
      latency_method: f.committedMethod,
      durable_p50_ms: round(f.durable.p50, 1),
      durable_p99_ms: round(f.durable.p99, 1),
      durable_p999_ms: round(f.durable.p999, 1),
      durable_samples: f.durable.samples,
      durable_method: f.durableMethod,
      with_warmup_p50_ms: round(f.withWarmup.p50, 1),
      with_warmup_p99_ms: round(f.withWarmup.p99, 1),
      with_warmup_p999_ms: round(f.withWarmup.p999, 1),
      cpu_cores: Object.fromEntries(Object.entries(f.cpuCores).map(([k, v]) => [k, round(v, 2)])),
    },
    peak_rss_mb: round(m.peakRssMb),
    alloc_bytes_per_tx: round(m.allocBytesPerTx),
    alloc_method: m.allocMethod,
    forest_speedup: round(m.forestSpeedup, 1),
    backtest_tx_per_s: round(m.backtestTxPerS),
    log_lines_per_s: round(m.logLinesPerS),
    log_grouping_accuracy: round(m.logGroupingAccuracy, 4),
    services: {
      broker_uptime_s: m.conditions.brokerUptimeS === null ? null : round(m.conditions.brokerUptimeS),
      mariadb_buffer_pool_mb: m.conditions.mariadbBufferPoolMb === null ? null : round(m.conditions.mariadbBufferPoolMb),
    },
  };
}

export type Figures = ReturnType<typeof buildFigures>;

/** Issue 17's targets, each `met` or `NOT met` with its figure; the closing line of the bench. */
export function targetVerdicts(fig: Figures): string[] {
  const v = (ok: boolean) => (ok ? 'met' : 'NOT met');
  const n = (x: number | null) => (x === null ? '?' : x.toLocaleString('en'));
  const fl = fig.fixed_load;
  const e2e = fig.e2e_tx_per_s ?? 0;
  // The latency target holds at 10,000 tx/s offered, or at 70 % of the saturation when that is lower.
  const atTarget = fl.offered_tx_per_s >= 10_000 || fl.offered_capped_by_saturation;
  const latencyOk = fl.sustained && atTarget;
  const at =
    `at ${n(fl.offered_tx_per_s)} tx/s offered after ${fl.warmup_seconds} s of warm-up` +
    (fl.sustained ? '' : ', NOT sustained') +
    (atTarget ? '' : ', below the target load: BENCH_FIXED_RATE=10000');
  return [
    `>= 15,000 tx/s end to end: ${v(e2e >= 15_000)} (${n(fig.e2e_tx_per_s)}; resolve threshold >= 10,000: ${v(e2e >= 10_000)})`,
    `p50 <= 30 ms event → decision committed: ${v(latencyOk && (fl.p50_ms ?? Infinity) <= 30)} (${n(fl.p50_ms)} ms ${at})`,
    `p99 <= 100 ms event → decision committed: ${v(latencyOk && (fl.p99_ms ?? Infinity) <= 100)} (${n(fl.p99_ms)} ms ${at})`,
    `>= 5× naive: ${v((fig.e2e_to_naive ?? 0) >= 5)} (${n(fig.e2e_to_naive)}×)`,
    `ingest peak RSS < 300 MB: ${v((fig.peak_rss_mb ?? Infinity) < 300)} (${n(fig.peak_rss_mb)} MB)`,
    `<= 10 KB allocated per transaction: ${v((fig.alloc_bytes_per_tx ?? Infinity) <= 10 * 1024)} (${n(fig.alloc_bytes_per_tx)} B)`,
  ];
}

/**
 * (c)'s CPU line: each process's cores over the measured span and their sum against the machine's,
 * e.g. "ingest 0.83, kafka 0.25, bench 0.38 (its producer and probes): 1.46 of 2 cores (73 %)".
 */
export function cpuCoresLine(cpuCores: Record<string, number>, machineCores: number): string {
  const entries = Object.entries(cpuCores).filter(([, v]) => Number.isFinite(v));
  const all = entries.reduce((a, [, v]) => a + v, 0);
  const each = entries.map(([k, v]) => `${k} ${v.toFixed(2)}${k === 'bench' ? ' (its producer and probes)' : ''}`);
  return `${each.join(', ')}: ${all.toFixed(2)} of ${machineCores} cores (${((all / machineCores) * 100).toFixed(0)} %)`;
}
