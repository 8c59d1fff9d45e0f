import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Rng } from '../domain/rng.ts';
import { readScrape, type Scrape } from './exposition.ts';
import { readTrace, resample, TraceFormatError, TraceWriter, type TraceHeader } from './trace.ts';
import { ScrapeReader, type ParsedScrape } from './watch.ts';

const T0 = Date.parse('2026-12-08T00:00:00Z');
const TARGETS = ['ingest', 'recon'] as const;
type Pages = Record<(typeof TARGETS)[number], string | null>;
const HEADER: TraceHeader = {
  scrapeMs: 1_000,
  targets: [...TARGETS],
  recordedAt: T0,
  commit: 'test',
  description: 'synthetic pages',
  slos: [{ metric: 'txmon_ingest_consumer_lag_records', as: 'gauge', limit: 5_000 }],
};
/** What the recorder keeps: everything but the process's own gauge. */
const keep = (name: string) => name !== 'txmon_process_heap_bytes';
const LE = ['0.1', '0.5', '2.5', '+Inf'];

/**
 * Each round's `/metrics` pages: per target a counter by outcome (the `dead_lettered` label set
 * appearing at round 3), a lag gauge, a fractional gauge kept out of the derived points, and a
 * latency histogram; at `resetAt` the ingest restarts (its counters and histogram from 0); `recon`
 * does not answer at the rounds in `down`.
 */
function pages(rounds: number, seed: number, resetAt: number, down: ReadonlySet<number>): Pages[] {
  const rng = new Rng(seed);
  const int = (n: number) => rng.uint32() % n;
  const state = TARGETS.map(() => ({ valid: 0, dead: 0, buckets: [0, 0, 0, 0] }));
  return Array.from({ length: rounds }, (_, i) => {
    const out = {} as Pages;
    TARGETS.forEach((target, j) => {
      const s = state[j] as (typeof state)[number];
      if (target === 'ingest' && i === resetAt) Object.assign(s, { valid: 0, dead: 0, buckets: [0, 0, 0, 0] });
      s.valid += 900 + int(200);
      if (i >= 3) s.dead += int(3);
      let cumulative = 0;
      s.buckets = s.buckets.map((c) => c + int(50));
      const counts = s.buckets.map((c) => (cumulative += c));
      const text = [
        '# HELP txmon_ingest_records_total h',
        '# TYPE txmon_ingest_records_total counter',
        `txmon_ingest_records_total{outcome="valid"} ${s.valid}`,
        ...(i >= 3 ? [`txmon_ingest_records_total{outcome="dead_lettered"} ${s.dead}`] : []),
        '# TYPE txmon_ingest_consumer_lag_records gauge',
        `txmon_ingest_consumer_lag_records{partition="0"} ${100 + int(50)}`,
        '# TYPE txmon_process_heap_bytes gauge',
        `txmon_process_heap_bytes ${(rng.uint32() / 2 ** 32) * 1e8}`,
        '# TYPE txmon_ingest_record_to_commit_seconds histogram',
        ...LE.map((le, b) => `txmon_ingest_record_to_commit_seconds_bucket{le="${le}"} ${counts[b]}`),
        `txmon_ingest_record_to_commit_seconds_sum ${cumulative / 3}`,
        `txmon_ingest_record_to_commit_seconds_count ${cumulative}`,
        '',
      ].join('\n');
      out[target] = target === 'recon' && down.has(i) ? null : text;
    });
    return out;
  });
}

const parsed = (page: Pages, time: number): ParsedScrape[] =>
  TARGETS.map((target) => {
    const text = page[target];
    return { target, scrape: text === null ? null : readScrape(text, time) };
  });

/** A raw trace as the recorder writes it: each round's pages parsed, read by a ScrapeReader, both written. */
function record(all: readonly Pages[]): Buffer {
  const w = new TraceWriter(HEADER, { raw: true });
  const reader = new ScrapeReader(keep);
  all.forEach((page, i) => {
    const time = T0 + i * 1_000;
    const raw = parsed(page, time);
    w.round(time, reader.readScrapes(time, raw), raw);
  });
  w.fault({ name: 'stall', start: T0 + 4_500, end: T0 + 6_500, effect: 'x', direction: 'down', description: '' });
  return w.bytes(true);
}

/** Brute force: a ScrapeReader given only every k-th round's texts, as a scraper k times slower would have read them. */
function everyKth(all: readonly Pages[], k: number) {
  const reader = new ScrapeReader(keep);
  return all.flatMap((page, i) => {
    if (i % k !== 0) return [];
    const time = T0 + i * 1_000;
    return [
      {
        time,
        points: reader.read(
          time,
          TARGETS.map((target) => ({ target, text: page[target] })),
        ),
      },
    ];
  });
}

describe('raw traces (txmon-ops-trace/2)', () => {
  it('read back each scrape as it was parsed: an unanswered target, a counter reset, a label set appearing, histograms', () => {
    const all = pages(12, 5, 7, new Set([2, 9]));
    const bytes = record(all);
    const text = gunzipSync(bytes).toString();
    expect(text.split('\n')[0]).toMatch(/^\{"format":"txmon-ops-trace\/2",/);
    expect(text).toContain('"le":[0.1,0.5,2.5,"+Inf"]');
    expect(text).toContain('"recon":null');
    const t = readTrace(bytes);
    expect(t.raw).toBe(true);
    expect(t.header).toEqual(HEADER);
    expect(t.faults).toHaveLength(1);
    expect(t.rounds).toHaveLength(12);
    t.rounds.forEach((r, i) => {
      expect(r.time).toBe(T0 + i * 1_000);
      const original = parsed(all[i] as Pages, r.time);
      expect(r.scrapes).toEqual(original);
      // toEqual does not see a Map's order; the page's order is what the derived points follow.
      expect(r.scrapes?.map((s) => [...(s.scrape?.samples.keys() ?? [])])).toEqual(
        original.map((s) => [...(s.scrape?.samples.keys() ?? [])]),
      );
    });
    const valid = (i: number) => {
      const s = t.rounds[i]?.scrapes?.[0]?.scrape?.samples.get('txmon_ingest_records_total{outcome="valid"}');
      return s?.kind === 'counter' ? s.value : NaN;
    };
    // The data does what the test is about: the reset, the unanswered rounds, the label set from round 3.
    expect(valid(7)).toBeLessThan(valid(6));
    expect(t.rounds.map((r) => r.scrapes?.[1]?.scrape === null)).toEqual(
      Array.from({ length: 12 }, (_, i) => i === 2 || i === 9),
    );
    expect(t.rounds[2]?.scrapes?.[0]?.scrape?.samples.size).toBe(4);
    expect(t.rounds[3]?.scrapes?.[0]?.scrape?.samples.size).toBe(5);
    const h = t.rounds[5]?.scrapes?.[0]?.scrape?.samples.get('txmon_ingest_record_to_commit_seconds');
    expect(h?.kind === 'histogram' && h.buckets.map(([le]) => le)).toEqual([0.1, 0.5, 2.5, Infinity]);
    expect(readTrace(gunzipSync(bytes)).rounds).toEqual(t.rounds);
  });

  it('a histogram count that was not a number comes back not a number; a sample whose buckets change is declared again', () => {
    const w = new TraceWriter({ ...HEADER, targets: ['a'] }, { raw: true });
    const hist = (time: number, le: number[]): Scrape => ({
      time,
      samples: new Map([['h', { kind: 'histogram', name: 'h', buckets: le.map((b) => [b, 1] as const), count: NaN }]]),
    });
    w.round(1, [], [{ target: 'a', scrape: hist(1, [1, Infinity]) }]);
    w.round(2, [], [{ target: 'a', scrape: hist(2, [1, 2, Infinity]) }]);
    const t = readTrace(w.bytes(false));
    expect(t.rounds.map((r) => r.scrapes?.[0]?.scrape)).toEqual([hist(1, [1, Infinity]), hist(2, [1, 2, Infinity])]);
    expect(
      w
        .bytes(false)
        .toString()
        .match(/"sample":/g),
    ).toHaveLength(2);
  });

  it('resampled every k rounds equals a reader given only every k-th scrape; k = 1 gives the recorded points back', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 40 }),
        fc.integer({ min: 1, max: 1_000 }),
        fc.integer({ min: 1, max: 6 }),
        fc.nat(),
        fc.uniqueArray(fc.nat({ max: 39 })),
        (rounds, seed, k, resetAt, down) => {
          const all = pages(rounds, seed, resetAt % rounds, new Set(down));
          const t = readTrace(record(all));
          expect(resample(t, 1, keep).rounds.map((r) => r.points)).toEqual(t.rounds.map((r) => r.points));
          const r = resample(t, k, keep);
          expect(r.header).toEqual({ ...HEADER, scrapeMs: k * 1_000 });
          expect(r.faults).toEqual(t.faults);
          expect(r.rounds.map(({ time, points }) => ({ time, points }))).toEqual(everyKth(all, k));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('at k = 3 the rates and p99s are over 3 s: not the recorded 1-s ones', () => {
    const all = pages(30, 9, 20, new Set([12]));
    const t = readTrace(record(all));
    const r = resample(t, 3, keep);
    expect(r.header.scrapeMs).toBe(3_000);
    expect(r.rounds.map((x) => x.time)).toEqual(Array.from({ length: 10 }, (_, i) => T0 + i * 3_000));
    expect(r.rounds.map(({ time, points }) => ({ time, points }))).toEqual(everyKth(all, 3));
    const rate = (points: (typeof r.rounds)[number]['points']) =>
      points.find((p) => p.key === 'ingest:rate(txmon_ingest_records_total{outcome="valid"})')?.value;
    // Round 3 at 3 s is the increase from round 0 over 3 s; the recorded round 3, from round 2 over 1 s.
    const c = (i: number) => Number(/outcome="valid"\} (\d+)/.exec(all[i]?.ingest ?? '')?.[1]);
    expect(rate(r.rounds[1]?.points ?? [])).toBeCloseTo((c(3) - c(0)) / 3, 9);
    expect(rate(t.rounds[3]?.points ?? [])).toBeCloseTo(c(3) - c(2), 9);
    expect(r.rounds[1]?.points.some((p) => p.as === 'p99')).toBe(true);
    // recon's unanswered round 12 is a kept one: up 0 there.
    expect(r.rounds[4]?.points.find((p) => p.key === 'recon:up')?.value).toBe(0);
  });

  it('refuses to resample a trace that keeps derived values only, or by anything but a positive whole number', () => {
    const t = readTrace(record(pages(5, 1, 3, new Set())));
    for (const every of [0, -1, 1.5, NaN]) expect(() => resample(t, every, keep)).toThrow(/every must be a positive integer/);
    const derived = readTrace(readFileSync(new URL('../tests/fixtures/ops-traces/lag.jsonl.gz', import.meta.url)));
    expect(() => resample(derived, 15, keep)).toThrow(/txmon-ops-trace\/1 trace keeps derived values only/);
  });

  it('the writer refuses what it could not read back the same', () => {
    const scrape: Scrape = { time: 1, samples: new Map() };
    expect(() => new TraceWriter(HEADER).round(1, [], [{ target: 'a', scrape }])).toThrow(
      /need a writer made with \{ raw: true \}/,
    );
    expect(() => new TraceWriter(HEADER, { raw: true }).round(1, [])).toThrow(/needs each round's raw scrapes/);
    expect(() => new TraceWriter(HEADER, { raw: true }).round(2, [], [{ target: 'a', scrape }])).toThrow(
      "a's scrape was taken at 1, not at the round's 2",
    );
    for (const targets of [['0'], ['a', 'a']])
      expect(() =>
        new TraceWriter(HEADER, { raw: true }).round(
          1,
          [],
          targets.map((target) => ({ target, scrape })),
        ),
      ).toThrow(/targets named once each, not as integers/);
  });
});

describe('txmon-ops-trace/1', () => {
  it("a writer without raw writes today's bytes", () => {
    const w = new TraceWriter({ scrapeMs: 500, targets: ['a'], recordedAt: 1, commit: 'c', description: 'd', slos: [] });
    w.round(10, [{ target: 'a', key: 'a:x', name: 'x', as: 'gauge', value: 2.5 }]);
    expect(w.bytes(false).toString()).toBe(
      [
        '{"format":"txmon-ops-trace/1","scrapeMs":500,"targets":["a"],"recordedAt":1,"commit":"c","description":"d","slos":[]}',
        '{"series":0,"target":"a","key":"a:x","name":"x","as":"gauge"}',
        '{"t":10,"v":[[0,2.5]]}',
        '',
      ].join('\n'),
    );
  });

  it('the recorded fixtures still read, as derived values only', () => {
    for (const name of ['faults', 'lag', 'clean']) {
      const t = readTrace(readFileSync(new URL(`../tests/fixtures/ops-traces/${name}.jsonl.gz`, import.meta.url)));
      expect(t.raw, name).toBe(false);
      expect(t.header.scrapeMs, name).toBe(1_000);
      expect(t.rounds.length, name).toBeGreaterThan(200);
      expect(t.rounds.some((r) => r.scrapes !== undefined)).toBe(false);
    }
  });
});

describe('malformed raw lines', () => {
  const V1 = '{"format":"txmon-ops-trace/1","scrapeMs":1000}';
  const V2 = '{"format":"txmon-ops-trace/2","scrapeMs":1000}';
  const GAUGE = '{"sample":0,"target":"a","key":"g","name":"g","kind":"gauge"}';
  const HIST = '{"sample":0,"target":"a","key":"h","name":"h","kind":"histogram","le":[1,"+Inf"]}';
  it.each([
    ['a sample in a /1 file', [V1, GAUGE], /^line 2: raw samples in a txmon-ops-trace\/1 file/],
    ['raw in a /1 round', [V1, '{"t":1,"v":[],"raw":{"a":null}}'], /^line 2: raw samples in a txmon-ops-trace\/1 file/],
    [
      'an unknown kind',
      [V2, '{"sample":0,"target":"a","key":"s","name":"s","kind":"summary"}'],
      /^line 2: a sample needs target, key, name and kind/,
    ],
    [
      'a histogram without le',
      [V2, '{"sample":0,"target":"a","key":"h","name":"h","kind":"histogram"}'],
      /^line 2: a histogram sample needs le/,
    ],
    [
      'a bound that is not one',
      [V2, '{"sample":0,"target":"a","key":"h","name":"h","kind":"histogram","le":[1,null]}'],
      /^line 2: a histogram sample needs le/,
    ],
    [
      'bounds descending',
      [V2, '{"sample":0,"target":"a","key":"h","name":"h","kind":"histogram","le":[2,1]}'],
      /^line 2: a histogram sample needs le/,
    ],
    ['raw a list', [V2, '{"t":1,"v":[],"raw":[]}'], /^line 2: raw must be an object of each target's samples/],
    ["a target's samples not a list", [V2, '{"t":1,"v":[],"raw":{"a":1}}'], /^line 2: a's raw samples must be a list or null/],
    ['an undeclared sample', [V2, '{"t":1,"v":[],"raw":{"a":[[5,1]]}}'], /^line 2: a: value of an undeclared sample 5/],
    ["another target's sample", [V2, GAUGE, '{"t":1,"v":[],"raw":{"b":[[0,1]]}}'], /^line 3: b: value of an undeclared sample 0/],
    ["a gauge's value not a number", [V2, GAUGE, '{"t":1,"v":[],"raw":{"a":[[0,"1"]]}}'], /^line 3: a: g needs \[id, value\]/],
    ['a sample twice', [V2, GAUGE, '{"t":1,"v":[],"raw":{"a":[[0,1],[0,2]]}}'], /^line 3: a: g twice/],
    [
      'a count per bound missing',
      [V2, HIST, '{"t":1,"v":[],"raw":{"a":[[0,[1],1]]}}'],
      /^line 3: a: h needs \[id, \[a count per bucket bound\], count\]/,
    ],
    [
      'a count that is not a number',
      [V2, HIST, '{"t":1,"v":[],"raw":{"a":[[0,[1,2],"2"]]}}'],
      /^line 3: a: h needs \[id, \[a count per bucket bound\], count\]/,
    ],
  ])('%s: refused naming its line', (_, lines, message) => {
    const bytes = Buffer.from(`${lines.join('\n')}\n`);
    expect(() => readTrace(bytes)).toThrow(TraceFormatError);
    expect(() => readTrace(bytes)).toThrow(message);
  });

  it('the same lines well formed read', () => {
    const t = readTrace(Buffer.from([V2, GAUGE, '{"t":1,"v":[],"raw":{"a":[[0,1.5]],"b":null}}'].join('\n')));
    expect(t.rounds[0]?.scrapes).toEqual([
      { target: 'a', scrape: { time: 1, samples: new Map([['g', { kind: 'gauge', name: 'g', value: 1.5 }]]) } },
      { target: 'b', scrape: null },
    ]);
  });
});
