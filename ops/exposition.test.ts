import fc from 'fast-check';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { bucketQuantile, derive, labelsOf, MIN_SHARE_TRIALS, readScrape, seriesKey } from './exposition.ts';

const BOUNDS = [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5];

/** histogram_quantile restated over raw observations: count them into the buckets, interpolate in the one holding the rank. */
function p99Of(observations: number[]): number | null {
  if (observations.length === 0) return null;
  const rank = 0.99 * observations.length;
  let prevBound = 0;
  let prevCount = 0;
  for (const bound of [...BOUNDS, Infinity]) {
    const count = observations.filter((o) => o <= bound).length;
    if (count >= rank) {
      if (bound === Infinity) return prevBound;
      if (count === prevCount) return bound;
      return prevBound + ((bound - prevBound) * (rank - prevCount)) / (count - prevCount);
    }
    prevBound = bound;
    prevCount = count;
  }
  return prevBound;
}

function registry() {
  const register = new Registry();
  const records = new Counter({ name: 'txmon_ingest_records_total', help: 'h', labelNames: ['outcome'], registers: [register] });
  const lag = new Gauge({
    name: 'txmon_ingest_consumer_lag_records',
    help: 'h',
    labelNames: ['partition'],
    registers: [register],
  });
  const latency = new Histogram({
    name: 'txmon_ingest_batch_duration_seconds',
    help: 'h',
    buckets: BOUNDS,
    registers: [register],
  });
  return { register, records, lag, latency };
}

describe('values from two scrapes of a real prom-client registry', () => {
  it('a gauge as it is, a counter as its rate, a histogram as the p99 of the observations between the scrapes (random traffic)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.double({ min: 0, max: 8, noNaN: true }), { maxLength: 300 }),
        fc.array(fc.double({ min: 0, max: 8, noNaN: true }), { maxLength: 300 }),
        fc.integer({ min: 0, max: 10_000 }),
        fc.integer({ min: 1_000, max: 60_000 }),
        async (first, second, decided, intervalMs) => {
          const m = registry();
          for (const o of first) m.latency.observe(o);
          m.records.inc({ outcome: 'decided' }, 5);
          m.lag.set({ partition: '0' }, 3);
          const a = readScrape(await m.register.metrics(), 1_000_000);
          for (const o of second) m.latency.observe(o);
          m.records.inc({ outcome: 'decided' }, decided);
          m.lag.set({ partition: '0' }, 42);
          const b = readScrape(await m.register.metrics(), 1_000_000 + intervalMs);
          const got = new Map(derive(a, b).map((d) => [d.key, d.value]));
          expect(got.get('txmon_ingest_consumer_lag_records{partition="0"}')).toBe(42);
          expect(got.get('rate(txmon_ingest_records_total{outcome="decided"})')).toBeCloseTo(decided / (intervalMs / 1_000), 9);
          const want = p99Of(second);
          const p99 = got.get('p99(txmon_ingest_batch_duration_seconds)');
          if (want === null) expect(p99).toBeUndefined();
          else expect(p99).toBeCloseTo(want, 9);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('a reset counter or histogram (the process restarted) counts from zero; a first scrape gives gauges only', async () => {
    const before = registry();
    before.records.inc({ outcome: 'decided' }, 1_000);
    for (let i = 0; i < 50; i++) before.latency.observe(0.02);
    const a = readScrape(await before.register.metrics(), 0);
    const after = registry();
    after.records.inc({ outcome: 'decided' }, 30);
    for (let i = 0; i < 10; i++) after.latency.observe(2);
    after.lag.set({ partition: '1' }, 7);
    const b = readScrape(await after.register.metrics(), 10_000);
    const got = new Map(derive(a, b).map((d) => [d.key, d.value]));
    expect(got.get('rate(txmon_ingest_records_total{outcome="decided"})')).toBe(3);
    expect(got.get('p99(txmon_ingest_batch_duration_seconds)')).toBeCloseTo(p99Of(Array(10).fill(2)) as number, 9);
    expect(derive(null, b).map((d) => d.key)).toEqual(['txmon_ingest_consumer_lag_records{partition="1"}']);
    // A label set first seen now was 0 at the previous scrape.
    after.records.inc({ outcome: 'dead-lettered' }, 50);
    const c = readScrape(await after.register.metrics(), 20_000);
    expect(
      new Map(derive(b, c).map((d) => [d.key, d.value])).get('rate(txmon_ingest_records_total{outcome="dead-lettered"})'),
    ).toBe(5);
  });

  it('keys sort labels; the +Inf bucket answers the highest finite bound; an empty histogram has no quantile', () => {
    expect(seriesKey('m', { b: '2', a: 'x"y' })).toBe('m{a="x\\"y",b="2"}');
    expect(
      bucketQuantile(0.99, [
        [1, 0],
        [Infinity, 10],
      ]),
    ).toBe(1);
    expect(
      bucketQuantile(0.99, [
        [1, 0],
        [Infinity, 0],
      ]),
    ).toBeNull();
  });
});

describe('shares of a label (derive with shareBy)', () => {
  const KINDS = ['ALLOW', 'REVIEW', 'BLOCK'] as const;

  it("each series' increase over its group's, per group of the other labels, from a real registry (random traffic)", async () => {
    await fc.assert(
      fc.asyncProperty(
        // Per scrape interval, per (group, decision): how many decisions.
        fc.array(fc.array(fc.nat({ max: 120 }), { minLength: 6, maxLength: 6 }), { minLength: 2, maxLength: 5 }),
        async (intervals) => {
          const register = new Registry();
          const decisions = new Counter({
            name: 'txmon_detection_decisions_total',
            help: 'h',
            labelNames: ['decision', 'ruleset'],
            registers: [register],
          });
          const other = new Counter({ name: 'other_total', help: 'h', registers: [register] });
          const shareBy = (name: string) => (name === 'txmon_detection_decisions_total' ? 'decision' : undefined);
          let prev = readScrape(await register.metrics(), 0);
          for (const [i, counts] of intervals.entries()) {
            counts.forEach((n, j) => {
              if (n > 0) decisions.inc({ decision: KINDS[j % 3] as string, ruleset: j < 3 ? 'a' : 'b' }, n);
            });
            other.inc(7);
            const cur = readScrape(await register.metrics(), (i + 1) * 1_000);
            const out = derive(prev, cur, shareBy);
            // The shared counter gives shares only; the other counter still its rate.
            expect(out.filter((d) => d.key.startsWith('rate(txmon_detection'))).toEqual([]);
            expect(out.find((d) => d.key === 'rate(other_total)')?.value).toBe(7);
            for (const [g, ruleset] of [
              [0, 'a'],
              [3, 'b'],
            ] as const) {
              const group = counts.slice(g, g + 3);
              const total = group.reduce((a, b) => a + b, 0);
              for (const [k, kind] of KINDS.entries()) {
                const d = out.find(
                  (x) => x.key === `share(txmon_detection_decisions_total{decision="${kind}",ruleset="${ruleset}"})`,
                );
                // A label set appears at its first increment; under MIN_SHARE_TRIALS events, no share at all.
                const seen = intervals.slice(0, i + 1).some((c) => (c[g + k] as number) > 0);
                if (total < MIN_SHARE_TRIALS || !seen) expect(d).toBeUndefined();
                else
                  expect(d).toEqual({
                    key: d?.key,
                    name: 'txmon_detection_decisions_total',
                    value: (group[k] as number) / total,
                    trials: total,
                  });
              }
            }
            prev = cur;
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('labelsOf reads back the labels seriesKey wrote, escapes included', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9]{0,8}$/), fc.string({ unit: 'binary' })), (labels) => {
        expect(labelsOf(seriesKey('m', labels))).toEqual({ ...labels });
      }),
    );
    expect(labelsOf('m')).toEqual({});
  });
});
