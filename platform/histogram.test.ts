import fc from 'fast-check';
import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { HotHistogram } from './histogram.ts';

const BUCKETS = [0.005, 0.01, 0.25, 0.5, 1, 2.5, 30];
const value = fc.oneof(fc.constantFrom(...BUCKETS, 0, -1, 31, 1e9), fc.double({ min: -5, max: 50, noNaN: true }));

/** Both histograms in registries of their own, fed the same observations. */
function both(labelNames: Array<'model'>) {
  const a = new Registry();
  const b = new Registry();
  const ref = new Histogram({ name: 'x_seconds', help: 'Some help.', buckets: BUCKETS, labelNames, registers: [a] });
  const hot = new HotHistogram({ name: 'x_seconds', help: 'Some help.', buckets: BUCKETS, labelNames, registers: [b] });
  return { a, b, ref, hot };
}

const jsonOf = async (r: Registry) =>
  (await r.getMetricsAsJSON()).map((m) => ({
    ...m,
    values: m.values.map((v) => ({ labels: v.labels, value: v.value, metricName: (v as { metricName?: string }).metricName })),
  }));

describe('HotHistogram', () => {
  it("exports what prom-client's Histogram exports for the same observations, without labels", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(value, { maxLength: 60 }), async (values) => {
        const { a, b, ref, hot } = both([]);
        for (const v of values) {
          ref.observe(v);
          hot.observe(v);
        }
        expect(await b.metrics()).toBe(await a.metrics());
        expect(await jsonOf(b)).toEqual(await jsonOf(a));
        a.resetMetrics();
        b.resetMetrics();
        expect(await b.metrics()).toBe(await a.metrics());
        ref.observe(0.3);
        hot.observe(0.3);
        expect(await b.metrics()).toBe(await a.metrics());
      }),
      { numRuns: 100 },
    );
  });

  it('and with labels, series created as they are first observed', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.constantFrom('active', 'shadow'), value), { maxLength: 60 }), async (obs) => {
        const { a, b, ref, hot } = both(['model']);
        for (const [model, v] of obs) {
          ref.labels({ model }).observe(v);
          hot.labels({ model }).observe(v);
        }
        expect(await b.metrics()).toBe(await a.metrics());
        expect(await jsonOf(b)).toEqual(await jsonOf(a));
        a.resetMetrics();
        b.resetMetrics();
        expect(await b.metrics()).toBe(await a.metrics());
      }),
      { numRuns: 100 },
    );
  });

  it('refuses what prom-client refuses: a non-finite value, a missing label', () => {
    const { hot } = both(['model']);
    expect(() => hot.labels({ model: 'active' }).observe(Number.NaN)).toThrow(TypeError);
    expect(() => hot.labels({} as { model: string })).toThrow(/label model is missing/);
    expect(() => new HotHistogram({ name: 'y', help: 'h', buckets: [1, 1], registers: [] })).toThrow(/ascending/);
  });
});
