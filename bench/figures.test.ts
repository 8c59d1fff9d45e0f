import { describe, expect, it } from 'vitest';
import {
  BENCH_BUFFER_POOL_MB,
  buildFigures,
  chooseOfferedRate,
  cpuCoresLine,
  latencyPercentiles,
  percentile,
  serviceNotes,
  sustained,
  targetVerdicts,
  WARM_BROKER_S,
  type Measured,
} from './figures.ts';
import { GcTrace } from './gc-trace.ts';

const measured = (over: Partial<Measured['fixed']> = {}, top: Partial<Measured> = {}): Measured => ({
  startedAt: new Date('2026-12-04T13:00:00.000Z'),
  node: 'v20.20.2',
  commit: { sha: 'a'.repeat(40), dirty: false },
  count: 200_000,
  rawRecordsPerS: 80_000,
  naiveTxPerS: 1_000,
  e2eTxPerS: 12_000,
  cpuUsPerTx: { ingest: 70.4, redis: 12, all: 82.4 },
  fixed: {
    requested: 10_000,
    offered: 8_400,
    capped: true,
    reason: 'saturation',
    seconds: 60,
    warmupSeconds: 20,
    withWarmup: { p50: 400, p99: 9_000, p999: 12_000, samples: 672_000 },
    producedPerS: 8_390,
    achievedPerS: 8_300,
    committed: { p50: 25.04, p99: 90, p999: 140, samples: 504_000 },
    durable: { p50: 20, p99: 80, p999: NaN, samples: 500_000 },
    committedMethod: 'offsets polled',
    durableMethod: 'rows polled',
    cpuCores: { ingest: 0.834, kafka: 0.25, bench: 0.376 },
    ...over,
  },
  peakRssMb: 250.4,
  allocBytesPerTx: 12_000,
  allocMethod: 'trace-gc-nvp',
  forestSpeedup: 31.26,
  backtestTxPerS: 123_456.7,
  logLinesPerS: 512_345.6,
  logGroupingAccuracy: 0.97712,
  conditions: { brokerUptimeS: 1234.4, mariadbBufferPoolMb: null },
  ...top,
});

describe('percentile', () => {
  it('is the nearest rank: the smallest value with at least q of the values at or below it', () => {
    const sorted = Array.from({ length: 1000 }, (_, i) => i + 1);
    expect(percentile(sorted, 0.5)).toBe(500);
    expect(percentile(sorted, 0.99)).toBe(990);
    expect(percentile(sorted, 0.999)).toBe(999);
    expect(percentile(sorted, 1)).toBe(1000);
    expect(percentile([7], 0.999)).toBe(7);
    expect(percentile([3, 9], 0.5)).toBe(3);
  });

  it('is NaN without values, so a missing latency cannot pass for a fast one', () => {
    expect(percentile([], 0.5)).toBeNaN();
  });

  it('sorts numerically whatever order the values come in', () => {
    const p = latencyPercentiles([100, 9, 20, 3, 1000, 50, 7, 8, 2, 1]);
    expect(p).toEqual({ p50: 8, p99: 1000, p999: 1000, samples: 10 });
  });
});

describe('chooseOfferedRate', () => {
  it('offers the requested rate when 70 % of the saturation is above it', () => {
    expect(chooseOfferedRate(10_000, 20_000)).toMatchObject({ rate: 10_000, capped: false });
  });

  it('offers 70 % of the saturation when that is lower, and says why', () => {
    const choice = chooseOfferedRate(10_000, 2_216);
    expect(choice).toMatchObject({ rate: 1_551, capped: true });
    expect(choice.reason).toContain('2,216');
  });

  it('keeps the requested rate when no saturation was measured', () => {
    expect(chooseOfferedRate(2_000, NaN)).toMatchObject({ rate: 2_000, capped: false });
    expect(chooseOfferedRate(2_000, 0)).toMatchObject({ rate: 2_000, capped: false });
  });
});

describe('sustained', () => {
  it('needs at least 95 % of the offered rate achieved', () => {
    expect(sustained(10_000, 9_500)).toBe(true);
    expect(sustained(10_000, 9_499)).toBe(false);
    expect(sustained(0, 0)).toBe(false);
  });
});

describe('buildFigures', () => {
  it("names the measured figures as issue 17's file does, rounded, with NaN as null", () => {
    const f = buildFigures(measured());
    expect(f).toMatchObject({
      started_at: '2026-12-04T13:00:00.000Z',
      node: 'v20.20.2',
      commit: 'a'.repeat(40),
      dirty: false,
      count: 200_000,
      raw_records_per_s: 80_000,
      naive_tx_per_s: 1_000,
      e2e_tx_per_s: 12_000,
      e2e_to_naive: 12,
      e2e_to_raw: 0.15,
      cpu_us_per_tx: { ingest: 70, redis: 12, all: 82 },
      peak_rss_mb: 250,
      alloc_bytes_per_tx: 12_000,
      forest_speedup: 31.3,
      backtest_tx_per_s: 123_457,
      log_lines_per_s: 512_346,
      log_grouping_accuracy: 0.9771,
      services: { broker_uptime_s: 1234, mariadb_buffer_pool_mb: null },
    });
    expect(f.fixed_load).toMatchObject({
      offered_tx_per_s: 8_400,
      offered_capped_by_saturation: true,
      achieved_tx_per_s: 8_300,
      sustained: true,
      p50_ms: 25,
      p99_ms: 90,
      p999_ms: 140,
      durable_p50_ms: 20,
      durable_p99_ms: 80,
      durable_p999_ms: null,
      warmup_seconds: 20,
      with_warmup_p50_ms: 400,
      with_warmup_p99_ms: 9_000,
      cpu_cores: { ingest: 0.83, kafka: 0.25, bench: 0.38 },
    });
    expect(JSON.parse(JSON.stringify(f))).toEqual(f);
  });
});

describe('serviceNotes', () => {
  it('says nothing of a warm broker and a buffer pool that holds a run', () => {
    expect(serviceNotes({ brokerUptimeS: WARM_BROKER_S, mariadbBufferPoolMb: BENCH_BUFFER_POOL_MB })).toEqual([]);
    expect(serviceNotes({ brokerUptimeS: null, mariadbBufferPoolMb: null })).toEqual([]);
  });

  it('names a young broker and a small buffer pool, each with its figure', () => {
    const notes = serviceNotes({ brokerUptimeS: 95.6, mariadbBufferPoolMb: 128 });
    expect(notes).toHaveLength(2);
    expect(notes[0]).toMatch(/^the broker had run 96 s when \(c\) began/);
    expect(notes[1]).toMatch(/^MariaDB's buffer pool is 128 MB \(innodb_buffer_pool_size\)/);
  });
});

describe('targetVerdicts', () => {
  it('says met or NOT met for each target, with its figure', () => {
    const lines = targetVerdicts(buildFigures(measured()));
    expect(lines).toEqual([
      '>= 15,000 tx/s end to end: NOT met (12,000; resolve threshold >= 10,000: met)',
      'p50 <= 30 ms event → decision committed: met (25 ms at 8,400 tx/s offered after 20 s of warm-up)',
      'p99 <= 100 ms event → decision committed: met (90 ms at 8,400 tx/s offered after 20 s of warm-up)',
      '>= 5× naive: met (12×)',
      'ingest peak RSS < 300 MB: met (250 MB)',
      '<= 10 KB allocated per transaction: NOT met (12,000 B)',
    ]);
  });

  it('does not call a latency met when the load was not sustained', () => {
    const lines = targetVerdicts(buildFigures(measured({ achievedPerS: 5_000 })));
    expect(lines[1]).toBe(
      'p50 <= 30 ms event → decision committed: NOT met (25 ms at 8,400 tx/s offered after 20 s of warm-up, NOT sustained)',
    );
  });

  it('does not call a latency met below the target load unless the saturation capped it', () => {
    const low = measured({ requested: 2_000, offered: 2_000, capped: false, achievedPerS: 2_000 });
    expect(targetVerdicts(buildFigures(low))[2]).toBe(
      'p99 <= 100 ms event → decision committed: NOT met (90 ms at 2,000 tx/s offered after 20 s of warm-up, below the target load: BENCH_FIXED_RATE=10000)',
    );
  });
});

describe('GcTrace', () => {
  it('sums the heap growth between GCs per isolate, across chunk boundaries, and ignores other output', () => {
    const gc = new GcTrace();
    gc.feed(
      '[1:0x1]  88 ms: pause=1.4 gc=s total_size_before=4074104 total_size_after=3000000 allocated=4074104 promoted=0\n' +
        '[1:0x1]  93 ms: pause=1.5 gc=s total_size_before=3952744 total_size_af',
    );
    gc.feed('ter=3100000 allocated=952744 promoted=63160\nsome other line allocated_bytes=5\n');
    // A scavenge whose allocated= is the whole heap (V8 prints that on some): the sizes are what count.
    gc.feed('[1:0x1]  99 ms: pause=1.5 gc=s total_size_before=4100000 total_size_after=3200000 allocated=4100000\n');
    // Another isolate (a worker) keeps its own sizes.
    gc.feed('[1:0x2]  99 ms: pause=1.5 gc=s total_size_before=500000 total_size_after=400000 allocated=500000\n');
    expect(gc.allocated).toBe(4_074_104 + (3_952_744 - 3_000_000) + (4_100_000 - 3_100_000) + 500_000);
    expect(gc.gcs).toBe(4);
  });
});

describe('cpuCoresLine', () => {
  it('names each process with its cores, the bench as the load, and their sum against the machine', () => {
    expect(cpuCoresLine({ ingest: 0.834, kafka: 0.25, bench: 0.376 }, 2)).toBe(
      'ingest 0.83, kafka 0.25, bench 0.38 (its producer and probes): 1.46 of 2 cores (73 %)',
    );
  });

  it('leaves out a process whose figure is missing (it was gone at one end of the span)', () => {
    expect(cpuCoresLine({ ingest: 0.5, redis: NaN }, 2)).toBe('ingest 0.50: 0.50 of 2 cores (25 %)');
  });
});
