import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Rng } from '../domain/rng.ts';
import { DEFAULT_DETECTOR } from './detector.ts';
import { evaluateTrace } from './evaluate.ts';
import { readTrace, TraceFormatError, TraceWriter, type TraceFault } from './trace.ts';
import type { RoundPoint, WatchParams } from './watch.ts';

const SCRAPE = 1_000;
const T0 = Date.parse('2026-12-06T00:00:00Z');
const PARAMS: WatchParams = {
  detector: { ...DEFAULT_DETECTOR, minPoints: 20 },
  incidents: { groupMs: 10 * SCRAPE, quietMs: 20 * SCRAPE },
  metrics: ['txmon_ingest_records_total', 'txmon_ingest_consumer_lag_records'],
  bad: { txmon_ingest_records_total: 'down', txmon_ingest_consumer_lag_records: 'up' },
  slos: [{ metric: 'txmon_ingest_consumer_lag_records', as: 'gauge', limit: 5_000 }],
  horizonMs: 300 * SCRAPE,
  scrapeMs: SCRAPE,
  forecastPoints: 12,
};

interface Script {
  rounds: number;
  /** Round ranges [from, to) where throughput drops to a tenth (an injected stall). */
  stalls?: Array<[number, number]>;
  /** Round ranges where the lag grows by `perRound` each round. */
  ramps?: Array<[number, number, number]>;
  faults?: Array<{ name: string; from: number; to: number; effect: string; direction: 'up' | 'down' }>;
  seed?: number;
}

/** A trace as the recorder writes it: ~1,000 records/s with noise, a lag around 100, and the script's events. */
function trace(s: Script): Buffer {
  const rng = new Rng(s.seed ?? 11);
  const rnd = () => rng.next();
  const w = new TraceWriter({
    scrapeMs: SCRAPE,
    targets: ['ingest'],
    recordedAt: T0,
    commit: 'test',
    description: 'synthetic',
    slos: PARAMS.slos,
  });
  let lag = 100;
  const within = (ranges: Array<[number, number, ...number[]]> | undefined, i: number) =>
    ranges?.find(([a, b]) => i >= a && i < b);
  for (let i = 0; i < s.rounds; i++) {
    const stalled = within(s.stalls, i) !== undefined;
    const ramp = within(s.ramps, i);
    lag = ramp ? lag + (ramp[2] as number) : 80 + 40 * rnd();
    const points: RoundPoint[] = [
      { target: 'ingest', key: 'ingest:up', name: 'up', as: 'gauge', value: 1 },
      {
        target: 'ingest',
        key: 'ingest:rate(txmon_ingest_records_total)',
        name: 'txmon_ingest_records_total',
        as: 'rate',
        value: (stalled ? 100 : 1_000) * (0.95 + 0.1 * rnd()),
      },
      {
        target: 'ingest',
        key: 'ingest:txmon_ingest_consumer_lag_records',
        name: 'txmon_ingest_consumer_lag_records',
        as: 'gauge',
        value: Math.round(lag),
      },
    ];
    w.round(T0 + i * SCRAPE, points);
  }
  for (const f of s.faults ?? [])
    w.fault({
      name: f.name,
      start: T0 + f.from * SCRAPE - 500,
      end: T0 + f.to * SCRAPE - 500,
      effect: f.effect,
      direction: f.direction,
      description: '',
    } satisfies TraceFault);
  return w.bytes(true);
}

describe('ops traces', () => {
  it('read back what was written, gzip-compressed or not; a file that is not a trace is refused naming the line', () => {
    const w = new TraceWriter({ scrapeMs: 500, targets: ['a'], recordedAt: 1, commit: 'c', description: 'd', slos: [] });
    const p: RoundPoint = { target: 'a', key: 'a:x', name: 'x', as: 'gauge', value: 2.5 };
    w.round(10, [p]);
    w.round(510, [
      { ...p, value: 3 },
      { target: 'a', key: 'a:up', name: 'up', as: 'gauge', value: 1 },
    ]);
    w.fault({ name: 'f', start: 400, end: 600, effect: 'x', direction: 'up', description: 'why' });
    for (const gz of [true, false]) {
      const t = readTrace(w.bytes(gz));
      expect(t.header).toMatchObject({ scrapeMs: 500, targets: ['a'], commit: 'c' });
      expect(t.rounds).toEqual([
        { time: 10, points: [p] },
        {
          time: 510,
          points: [
            { ...p, value: 3 },
            { target: 'a', key: 'a:up', name: 'up', as: 'gauge', value: 1 },
          ],
        },
      ]);
      expect(t.faults).toEqual([{ name: 'f', start: 400, end: 600, effect: 'x', direction: 'up', description: 'why' }]);
    }
    expect(() => readTrace(Buffer.from('{"format":"other"}\n'))).toThrow(TraceFormatError);
    expect(() => readTrace(Buffer.from('{"format":"txmon-ops-trace/1","scrapeMs":1000}\n{"t":5,"v":[[0,1]]}\n'))).toThrow(
      /line 2: value of an undeclared series 0/,
    );
    expect(() => readTrace(Buffer.from(''))).toThrow(/no trace header/);
  });

  it('a stall: its effect at its first round, flagged persist − 1 scrapes later, the throughput named first; nothing else raised', () => {
    const t = readTrace(
      trace({
        rounds: 200,
        stalls: [[100, 120]],
        faults: [{ name: 'stall', from: 100, to: 120, effect: 'txmon_ingest_records_total', direction: 'down' }],
      }),
    );
    const e = evaluateTrace(t, PARAMS, { settleMs: 10_000 });
    const [f] = e.faults;
    expect(f?.effectAt).toBe(T0 + 100 * SCRAPE);
    expect(f?.detectedAt).toBe(T0 + (100 + PARAMS.detector.persist - 1) * SCRAPE);
    expect(f?.delayScrapes).toBe(PARAMS.detector.persist - 1);
    expect(f?.firstMover).toBe('ingest:rate(txmon_ingest_records_total)');
    expect(e.falseAlarms).toEqual([]);
    // Clean time: the rounds from the warm-up's end outside [start, end + settle].
    const scoring = (e.scoringFrom - T0) / SCRAPE;
    const window = Array.from({ length: 200 }, (_, i) => i).filter(
      (i) => T0 + i * SCRAPE >= t.faults[0]!.start && T0 + i * SCRAPE <= t.faults[0]!.end + 10_000,
    );
    expect(e.cleanMs).toBe((200 - scoring - window.length) * SCRAPE);
  });

  it('a fault over before the detectors score is marked so (not measured); one after is not', () => {
    const t = readTrace(
      trace({
        rounds: 200,
        stalls: [
          [10, 15],
          [100, 120],
        ],
        faults: [
          { name: 'early', from: 10, to: 15, effect: 'txmon_ingest_records_total', direction: 'down' },
          { name: 'late', from: 100, to: 120, effect: 'txmon_ingest_records_total', direction: 'down' },
        ],
      }),
    );
    // The early one's recovery ends at round ~16.5, before the detectors score (round 21).
    const e = evaluateTrace(t, PARAMS, { settleMs: 2_000 });
    expect(e.faults.map((f) => [f.name, f.beforeScoring, f.detectedAt !== null])).toEqual([
      ['early', true, false],
      ['late', false, true],
    ]);
  });

  it('a stall nobody injected is a false alarm; per day of the clean time', () => {
    const e = evaluateTrace(readTrace(trace({ rounds: 300, stalls: [[150, 160]] })), PARAMS, { settleMs: 0 });
    expect(e.falseAlarms.map((a) => [a.at, a.firstMover])).toEqual([
      [T0 + 151 * SCRAPE, 'ingest:rate(txmon_ingest_records_total)'],
    ]);
    expect(e.falseAlarmsPerDay).toBeCloseTo(86_400_000 / e.cleanMs, 9);
  });

  it('a lag growing to its SLO: the breach is predicted ahead of it, and the lead is the time from the prediction to the breach', () => {
    const e = evaluateTrace(
      readTrace(
        trace({
          rounds: 260,
          ramps: [[100, 200, 60]],
          faults: [{ name: 'slow', from: 100, to: 200, effect: 'txmon_ingest_consumer_lag_records', direction: 'up' }],
        }),
      ),
      PARAMS,
      { settleMs: 30_000 },
    );
    const [b] = e.breaches;
    // The ramp starts near 100 and adds 60 a round: 5,000 is passed ~82 rounds in.
    expect(e.breaches).toHaveLength(1);
    expect(b?.series).toBe('ingest:txmon_ingest_consumer_lag_records');
    expect(b?.breachAt).toBeGreaterThan(T0 + 170 * SCRAPE);
    expect(b?.predictedAt).not.toBeNull();
    expect(b?.leadMs).toBe((b?.breachAt as number) - (b?.predictedAt as number));
    expect(b?.leadMs).toBeGreaterThanOrEqual(60 * SCRAPE);
    expect(e.faults[0]?.delayScrapes).toBeLessThanOrEqual(2);
  });

  it('detection delay against a brute force: a step of any size past the noise, at any round after the warm-up', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 40, max: 150 }),
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 1, max: 1_000 }),
        (at, len, seed) => {
          const t = readTrace(
            trace({
              rounds: 200,
              seed,
              stalls: [[at, at + len]],
              faults: [{ name: 's', from: at, to: at + len, effect: 'txmon_ingest_records_total', direction: 'down' }],
            }),
          );
          const e = evaluateTrace(t, PARAMS, { settleMs: 5_000 });
          const f = e.faults[0];
          // A drop to a tenth is far past the noise: it is flagged at the persist-th stalled round, if the stall lasts that long.
          if (len >= PARAMS.detector.persist) expect(f?.delayScrapes).toBe(PARAMS.detector.persist - 1);
          else expect(f?.detectedAt).toBeNull();
          expect(f?.effectAt).toBe(T0 + at * SCRAPE);
        },
      ),
      { numRuns: 40 },
    );
  });
});
