import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { DEFAULT_DETECTOR } from './detector.ts';
import { readScrape } from './exposition.ts';
import { badDirection, OpsWatchEngine, ScrapeReader, type WatchParams, type WatchStep } from './watch.ts';
import { BAD_DIRECTION, SHARE_BY } from './watch-list.ts';

const SCRAPE = 15_000;
const PARAMS: WatchParams = {
  detector: DEFAULT_DETECTOR,
  incidents: { groupMs: 4 * SCRAPE, quietMs: 8 * SCRAPE },
  metrics: ['txmon_ingest_records_total', 'txmon_ingest_consumer_lag_records', 'txmon_ingest_record_to_commit_seconds'],
  slos: [{ metric: 'txmon_ingest_consumer_lag_records', as: 'gauge', limit: 100_000 }],
  horizonMs: 15 * 60_000,
  scrapeMs: SCRAPE,
  forecastPoints: 12,
};

/** A seeded uniform [0, 1) (mulberry32): the same trace every run. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * An ingest's /metrics over `rounds` scrapes (a real prom-client registry): ~1,500 records a scrape,
 * lag around 200, commit latency around 50 ms. From `faultAt` (if given) the broker is slow: the
 * latency climbs first, and one scrape later the throughput halves and the lag grows 6,000 a scrape.
 */
async function run(rounds: number, faultAt: number | null, seed = 7): Promise<WatchStep[]> {
  const rnd = random(seed);
  const register = new Registry();
  const records = new Counter({ name: 'txmon_ingest_records_total', help: 'h', labelNames: ['outcome'], registers: [register] });
  const lag = new Gauge({ name: 'txmon_ingest_consumer_lag_records', help: 'h', registers: [register] });
  const latency = new Histogram({
    name: 'txmon_ingest_record_to_commit_seconds',
    help: 'h',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [register],
  });
  const engine = new OpsWatchEngine(PARAMS);
  const steps: WatchStep[] = [];
  let backlog = 200;
  for (let i = 0; i < rounds; i++) {
    const broken = faultAt !== null && i >= faultAt;
    const slowed = faultAt !== null && i >= faultAt + 1;
    records.inc({ outcome: 'decided' }, Math.round((slowed ? 750 : 1_500) * (0.9 + 0.2 * rnd())));
    backlog = slowed ? backlog + 6_000 : 150 + 100 * rnd();
    lag.set(Math.round(backlog));
    for (let k = 0; k < 200; k++) latency.observe((broken ? 0.8 : 0.03) * (0.5 + rnd()));
    steps.push(engine.observe(i * SCRAPE, [{ target: 'ingest', text: await register.metrics() }]));
  }
  return steps;
}

describe('the ops-watch engine on a recorded trace', () => {
  it('a slowed broker: one incident within 2 scrapes of the effect, the latency named first, the lag breach forecast minutes ahead', async () => {
    const faultAt = 300;
    const steps = await run(340, faultAt);
    const opened = steps.flatMap((s) => (s.incidents.opened ? [{ at: s.time / SCRAPE, incident: s.incidents.opened }] : []));
    expect(opened.map((o) => o.at)).toEqual([faultAt + 1]);
    const incident = opened[0]?.incident;
    expect(incident?.firstMover).toBe('ingest:p99(txmon_ingest_record_to_commit_seconds)');
    expect([...(incident?.series.keys() ?? [])]).toEqual(
      expect.arrayContaining([
        'ingest:txmon_ingest_consumer_lag_records',
        'ingest:rate(txmon_ingest_records_total{outcome="decided"})',
      ]),
    );
    // The lag passes 100,000 at about the 17th scrape of the fault; the forecast said so well before.
    const breachAt = (faultAt + 1 + Math.ceil((100_000 - 200) / 6_000)) * SCRAPE;
    const predicted = steps.flatMap((s) => s.predictions);
    expect(predicted.map((p) => p.series)).toEqual(['ingest:txmon_ingest_consumer_lag_records']);
    const p = predicted[0];
    const saidAt = steps.find((s) => s.predictions.length > 0)?.time as number;
    expect(breachAt - saidAt).toBeGreaterThanOrEqual(60_000);
    expect(p?.earliestAt).toBeLessThanOrEqual(p?.expectedAt as number);
    // Said 16 scrapes (4 min) ahead, at the lag's second rising point; the real breach inside the interval.
    expect(p?.earliestAt).toBeLessThanOrEqual(breachAt);
    if (p?.latestAt != null) expect(p.latestAt).toBeGreaterThanOrEqual(breachAt);
  });

  it('the mix of decisions: a surge of traffic in the same mix raises nothing, every decision a REVIEW is flagged by its share', async () => {
    const rnd = random(11);
    const register = new Registry();
    const decisions = new Counter({
      name: 'txmon_detection_decisions_total',
      help: 'h',
      labelNames: ['decision'],
      registers: [register],
    });
    const engine = new OpsWatchEngine({
      ...PARAMS,
      metrics: ['txmon_detection_decisions_total'],
      bad: BAD_DIRECTION,
      shares: SHARE_BY,
      slos: [],
    });
    const flaggedAt: Array<{ round: number; keys: string[] }> = [];
    for (let i = 0; i < 90; i++) {
      // 1,500 decisions a scrape, 3 times that from round 40 to 59 (the surge), all REVIEW from round 70.
      const n = Math.round(1_500 * (i >= 40 && i < 60 ? 3 : 1) * (0.9 + 0.2 * rnd()));
      const review = i >= 70 ? n : Math.round(n * (0.15 + 0.02 * rnd()));
      const block = i >= 70 ? 0 : Math.round(n * 0.01 * rnd());
      decisions.inc({ decision: 'REVIEW' }, review);
      if (n - review - block > 0) decisions.inc({ decision: 'ALLOW' }, n - review - block);
      if (block > 0) decisions.inc({ decision: 'BLOCK' }, block);
      const step = engine.observe(i * SCRAPE, [{ target: 'ingest', text: await register.metrics() }]);
      if (step.flagged.length > 0) flaggedAt.push({ round: i, keys: step.flagged.map((f) => f.key).sort() });
    }
    // Nothing through the surge (a rate of REVIEW would have tripled); the review-everything step
    // is flagged at its second scrape (the detector's defaults: 2 in a row), by the shares of
    // REVIEW (up) and ALLOW (down).
    expect(flaggedAt.filter((f) => f.round < 70)).toEqual([]);
    expect(flaggedAt[0]?.round).toBe(71);
    expect(flaggedAt[0]?.keys).toEqual([
      'ingest:share(txmon_detection_decisions_total{decision="ALLOW"})',
      'ingest:share(txmon_detection_decisions_total{decision="REVIEW"})',
    ]);
  });

  it('a clean day of scrapes (5,760): no incident, no prediction', async () => {
    const steps = await run(5_760, null, 11);
    expect(steps.filter((s) => s.incidents.opened).length).toBe(0);
    expect(steps.flatMap((s) => s.predictions)).toEqual([]);
    expect(steps.at(-1)?.points).toBe(4); // up, lag, the rate, the p99
  });

  it('a malformed flood: the dead-letter counter appears at its first increment and is named first, from the flood’s second scrape', async () => {
    const rnd = random(5);
    const register = new Registry();
    const records = new Counter({
      name: 'txmon_ingest_records_total',
      help: 'h',
      labelNames: ['outcome'],
      registers: [register],
    });
    const dlq = new Counter({
      name: 'txmon_ingest_dead_letters_total',
      help: 'h',
      labelNames: ['error_class'],
      registers: [register],
    });
    const engine = new OpsWatchEngine({ ...PARAMS, metrics: [...PARAMS.metrics, 'txmon_ingest_dead_letters_total'] });
    const floodAt = 200;
    const opened = [];
    for (let i = 0; i < 210; i++) {
      records.inc({ outcome: 'decided' }, Math.round(1_500 * (0.9 + 0.2 * rnd())));
      if (i >= floodAt) dlq.inc({ error_class: 'DECODE_FAILED' }, 400 + Math.round(100 * rnd()));
      const step = engine.observe(i * SCRAPE, [{ target: 'ingest', text: await register.metrics() }]);
      if (step.incidents.opened) opened.push([i, step.incidents.opened.firstMover]);
    }
    // The counter did not exist before the flood (prom-client creates a label set at its first
    // increment): its baseline is the zeros of the scrapes before, so the flood is unusual at once.
    expect(opened).toEqual([[floodAt + 1, 'ingest:rate(txmon_ingest_dead_letters_total{error_class="DECODE_FAILED"})']]);
  });

  it('a move the good way is not trouble: a latency that falls raises nothing, one that rises does', () => {
    const page = (v: number) => `# TYPE txmon_ingest_consumer_lag_records gauge\ntxmon_ingest_consumer_lag_records ${v}\n`;
    const run = (after: number) => {
      const engine = new OpsWatchEngine({ ...PARAMS, bad: { txmon_ingest_consumer_lag_records: 'up' } });
      let opened = 0;
      for (let i = 0; i < 40; i++) {
        const v = i < 30 ? 1_000 + (i % 5) * 10 : after;
        if (engine.observe(i * SCRAPE, [{ target: 'ingest', text: page(v) }]).incidents.opened) opened++;
      }
      return opened;
    };
    expect(run(10)).toBe(0);
    expect(run(5_000)).toBe(1);
  });

  it('a target that cannot be read: its up series falls to 0 and is the incident', () => {
    const engine = new OpsWatchEngine(PARAMS);
    const text = '# TYPE txmon_ingest_consumer_lag_records gauge\ntxmon_ingest_consumer_lag_records 5\n';
    let opened = null;
    for (let i = 0; i < 40; i++) {
      const step = engine.observe(i * SCRAPE, [{ target: 'ingest', text: i >= 30 ? null : text }]);
      opened ??= step.incidents.opened;
    }
    expect(opened?.firstMover).toBe('ingest:up');
    expect(opened?.openedAt).toBe(31 * SCRAPE);
  });
});

describe('the scrape reader', () => {
  it('reads parsed scrapes as it reads their texts, and refuses a scrape taken at another time than its round', () => {
    const page = (n: number) => `# TYPE c counter\nc ${n}\n# TYPE g gauge\ng ${n / 7}\n`;
    const [byText, byScrape] = [new ScrapeReader(() => true), new ScrapeReader(() => true)];
    for (const [i, n] of [10, 40, null, 25].entries()) {
      const text = n === null ? null : page(n);
      const fromText = byText.read(i * SCRAPE, [{ target: 't', text }]);
      expect(
        byScrape.readScrapes(i * SCRAPE, [{ target: 't', scrape: text === null ? null : readScrape(text, i * SCRAPE) }]),
      ).toEqual(fromText);
      if (i === 1) expect(fromText.find((p) => p.key === 't:rate(c)')?.value).toBe(30 / 15);
    }
    expect(() => byScrape.readScrapes(SCRAPE, [{ target: 't', scrape: readScrape(page(1), 0) }])).toThrow(
      "t's scrape was taken at 0, not at the round's 15000",
    );
  });
});

describe('which way is trouble', () => {
  it("a label's entry comes before its metric's; a metric not listed is both ways", () => {
    const bad = { txmon_ingest_records_total: 'down', 'txmon_ingest_records_total{outcome="dead_lettered"}': 'up' } as const;
    expect(badDirection(bad, 'txmon_ingest_records_total', 'ingest:rate(txmon_ingest_records_total{outcome="valid"})')).toBe(
      'down',
    );
    expect(
      badDirection(bad, 'txmon_ingest_records_total', 'ingest:rate(txmon_ingest_records_total{outcome="dead_lettered"})'),
    ).toBe('up');
    expect(badDirection(bad, 'txmon_other', 'ingest:txmon_other{outcome="dead_lettered"}')).toBeUndefined();
    expect(badDirection(undefined, 'txmon_ingest_records_total', 'x')).toBeUndefined();
  });

  it("a histogram's p99 is scored at its buckets' resolution: a move within the baseline's bucket is not flagged, one two buckets up is", () => {
    const engine = new OpsWatchEngine({ ...PARAMS, metrics: ['lat'], bad: { lat: 'up' }, slos: [] });
    const bounds = [0.05, 0.1, 0.25, 0.5, 1];
    const at = (i: number, value: number) =>
      engine.observePoints(i * SCRAPE, [{ target: 't', key: 't:p99(lat)', name: 'lat', as: 'p99', value, bounds }]);
    for (let i = 0; i < 40; i++) at(i, 0.07 + 0.001 * (i % 3)); // a MAD of 0.001: without the floor, 0.09 would be 19 σ out
    expect([at(40, 0.095), at(41, 0.095)].flatMap((s) => s.flagged)).toEqual([]);
    expect(at(42, 0.6).flagged).toEqual([]);
    expect(at(43, 0.6).flagged.map((f) => f.key)).toEqual(['t:p99(lat)']);
  });
});
