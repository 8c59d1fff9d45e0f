import { describe, expect, it } from 'vitest';
import { OpsAlertBook } from './alerts.ts';
import { LOG_TEMPLATE_METRIC, LogTemplateWatch, templateKey } from './log-watch.ts';
import { OpsWatchEngine, type WatchParams } from './watch.ts';

const SCRAPE_MS = 1_000;
const line = (msg: string) => JSON.stringify({ level: 30, time: 1, msg });
const steady = (i: number) => [
  line(`batch of ${100 + (i % 7)} records committed in ${20 + (i % 5)} ms`),
  line(`batch of ${90 + (i % 3)} records committed in ${18 + (i % 4)} ms`),
  line('heartbeat sent to the group coordinator'),
];

function engine(): OpsWatchEngine {
  const params: WatchParams = {
    detector: { method: 'robust', windowMs: 600_000, threshold: 5, persist: 3, minPoints: 20, minScale: 1e-9 },
    incidents: { groupMs: 60_000, quietMs: 120_000 },
    metrics: [LOG_TEMPLATE_METRIC],
    bad: { [LOG_TEMPLATE_METRIC]: 'up' },
    slos: [],
    horizonMs: 60_000,
    scrapeMs: SCRAPE_MS,
    forecastPoints: 12,
  };
  return new OpsWatchEngine(params);
}

/** An alert book that describes the watch's template series, as ops-watch's is. */
const bookOf = (w: LogTemplateWatch) =>
  new OpsAlertBook((key, startedAt) => {
    const template = w.templateOf(key);
    return template === undefined ? undefined : { template, newTemplate: w.isNew(key, startedAt) };
  });

describe('LogTemplateWatch', () => {
  it('counts each template per round as a rate, with a zero where it logged nothing', () => {
    const w = new LogTemplateWatch({ scrapeMs: 2_000, warmupMs: 0, maxTemplates: 10 });
    const r1 = w.round(0, [...steady(0), ...steady(1)]);
    expect(r1.lines).toBe(6);
    const rates = Object.fromEntries(r1.points.map((p) => [p.key, p.value]));
    expect(rates['logs:up']).toBe(1);
    expect(rates[templateKey(1)]).toBe(2); // 4 lines over 2 s (both batch lines are one template)
    expect(rates[templateKey(2)]).toBe(1);
    const r2 = w.round(2_000, [line('heartbeat sent to the group coordinator')], false);
    expect(Object.fromEntries(r2.points.map((p) => [p.key, p.value]))).toEqual({
      'logs:up': 0,
      [templateKey(1)]: 0,
      [templateKey(2)]: 0.5,
    });
    expect(w.templateOf(templateKey(1))).toBe('batch of <NUM> records committed in <NUM> ms');
    expect(w.templateOf('ingest:up')).toBeUndefined();
  });

  it('flags a template first seen after the warm-up as new, once; not one seen within it', () => {
    const w = new LogTemplateWatch({ scrapeMs: SCRAPE_MS, warmupMs: 5_000, maxTemplates: 10 });
    expect(w.round(0, steady(0)).fresh).toEqual([]);
    expect(w.round(3_000, [line('checkpoint written for partition 3')]).fresh).toEqual([]);
    const r = w.round(6_000, [
      line('redis not ready (connect refused); retrying'),
      line('redis not ready (timeout reached); retrying'),
    ]);
    expect(r.fresh).toEqual([{ key: templateKey(4), startedAt: 6_000, value: 2, baseline: 0, score: 0 }]);
    expect(w.isNew(templateKey(4), 6_000)).toBe(true);
    // The same template's later run (a spike hours after) is not new.
    expect(w.isNew(templateKey(4), 7_000)).toBe(false);
    expect(w.isNew(templateKey(3), 3_000)).toBe(false);
    expect(w.round(7_000, [line('redis not ready (timeout reached); retrying')]).fresh).toEqual([]);
  });

  it('beyond maxTemplates, new templates share one series and are not flagged one by one', () => {
    const w = new LogTemplateWatch({ scrapeMs: SCRAPE_MS, warmupMs: 0, maxTemplates: 2 });
    expect(w.round(0, []).fresh).toEqual([]);
    const r = w.round(1_000, [
      line('alpha happened'),
      line('beta occurred twice over'),
      line('gamma is a third kind of event here'),
    ]);
    expect(r.points.map((p) => p.key)).toEqual(['logs:up', templateKey(1), templateKey(2), templateKey('other')]);
    expect(r.fresh.map((f) => f.key)).toEqual([templateKey(1), templateKey(2)]);
    expect(w.templateOf(templateKey('other'))).toMatch(/beyond the first 2/);
  });
});

describe('log templates in the engine and the alerts', () => {
  it("a template whose rate spikes is flagged, and the incident's evidence names its text", () => {
    const w = new LogTemplateWatch({ scrapeMs: SCRAPE_MS, warmupMs: 0, maxTemplates: 50 });
    const e = engine();
    const book = bookOf(w);
    let flaggedAt: number | null = null;
    const alerts = [];
    for (let i = 0; i < 120; i++) {
      const t = i * SCRAPE_MS;
      // From round 100, the batch template logs 40 lines a second instead of 2.
      const lines = i >= 100 ? Array.from({ length: 20 }, (_, k) => steady(i + k)).flat() : steady(i);
      const r = w.round(t, lines);
      const step = e.observePoints(t, r.points, r.fresh);
      alerts.push(...book.changes(step));
      if (flaggedAt === null && step.flagged.some((f) => f.key === templateKey(1))) flaggedAt = i;
    }
    // Flagged at the third unusual round (persist 3), not before the spike.
    expect(flaggedAt).toBe(102);
    const opened = alerts.find((a) => a.kind === 'ANOMALY');
    expect(opened?.firstMover).toBe(templateKey(1));
    expect(opened?.evidence[0]).toMatchObject({
      series: templateKey(1),
      template: 'batch of <NUM> records committed in <NUM> ms',
      newTemplate: false,
    });
  });

  it('a new template opens an incident at once, marked new', () => {
    const w = new LogTemplateWatch({ scrapeMs: SCRAPE_MS, warmupMs: 30_000, maxTemplates: 50 });
    const e = engine();
    const book = bookOf(w);
    for (let i = 0; i < 40; i++) {
      const r = w.round(i * SCRAPE_MS, steady(i));
      expect(e.observePoints(i * SCRAPE_MS, r.points, r.fresh).flagged).toEqual([]);
    }
    const r = w.round(40_000, [...steady(40), line('aborting the Kafka transaction failed; recreating the producer')]);
    const step = e.observePoints(40_000, r.points, r.fresh);
    expect(step.incidents.opened?.firstMover).toBe(templateKey(3));
    const [alert] = book.changes(step);
    expect(alert?.evidence).toEqual([
      {
        series: templateKey(3),
        startedAt: 40_000,
        value: 1,
        baseline: 0,
        score: 0,
        template: 'aborting the Kafka transaction failed; recreating the producer',
        newTemplate: true,
      },
    ]);
  });
});
