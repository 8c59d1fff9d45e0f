import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildProgram, main } from './main.ts';
import { loadConfig } from '../config/config.ts';
import { readScrape } from '../ops/exposition.ts';
import { TraceWriter } from '../ops/trace.ts';
import { ScrapeReader } from '../ops/watch.ts';
import { InputError } from '../platform/errors.ts';
import { evaluateCsv, evaluateCsvCommand, type EvaluateCsvReport } from './ops-evaluate-csv.actions.ts';
import {
  detectCsv,
  detectCsvCommand,
  evaluateCommand,
  evaluateTraces,
  poissonUpper95,
  type DetectCsvReport,
  type EvaluateReport,
} from './ops.actions.ts';
import { delimiter, duration, nonNegativeDuration } from './ops.command.ts';

/** A day of one-minute points: noise around 100, a spike at 06:00, a level shift from 18:00. */
function seriesFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'txmon-ops-'));
  const rows = ['time,requests'];
  const start = Date.parse('2026-03-01T00:00:00Z');
  for (let i = 0; i < 1_440; i++) {
    let v = 100 + ((i * 7919) % 13) - 6;
    if (i === 360 || i === 361) v = 400;
    if (i >= 1_080) v += 60;
    rows.push(`${new Date(start + i * 60_000).toISOString()},${v}`);
  }
  const file = join(dir, 'series.csv');
  writeFileSync(file, `${rows.join('\n')}\n`);
  return file;
}

describe('txmon ops detect-csv', () => {
  it('flags the spike and the level shift, nothing else, with their scores and baselines (JSON)', () => {
    const said: string[] = [];
    const out = detectCsvCommand(seriesFile(), { time: 'time', value: 'requests', json: true }, (l) => said.push(l));
    const r = JSON.parse(out) as DetectCsvReport;
    expect(r.points).toBe(1_440);
    expect(r.params).toMatchObject({ method: 'robust', threshold: 3.5, persist: 2, timeColumn: 'time', valueColumn: 'requests' });
    expect(r.anomalies[0]).toMatchObject({ time: '2026-03-01T06:01:00.000Z', value: 400 });
    expect(r.anomalies[0]?.score).toBeGreaterThan(3.5);
    expect(r.anomalies[0]?.baseline).toBeGreaterThan(94);
    expect(r.anomalies[0]?.baseline).toBeLessThan(106);
    expect(r.episodes.map((e) => e.from)).toEqual(['2026-03-01T06:01:00.000Z', '2026-03-01T18:01:00.000Z']);
    // The shift is flagged until it has become the baseline's median: about half the hour's window.
    const shift = r.episodes[1];
    expect(shift?.points).toBeGreaterThan(20);
    expect(shift?.points).toBeLessThan(40);
    expect(said).toEqual([]);
  });

  it('the plain rolling z-score, given the same series, is blinded by the spike for the window after it', () => {
    const robust = detectCsv(seriesFile(), { time: 'time', value: 'requests', persist: 1 }, () => {});
    const plain = detectCsv(seriesFile(), { time: 'time', value: 'requests', persist: 1, method: 'zscore' }, () => {});
    expect(robust.episodes.length).toBe(2);
    expect(plain.params.method).toBe('zscore');
    expect(plain.anomalies.length).toBeLessThan(robust.anomalies.length);
  });

  it('prints a table for people; the options reach the detector; bad options and files are refused by name', () => {
    const text = detectCsvCommand(
      seriesFile(),
      { time: 'time', value: 'requests', window: duration('--window')('2h'), threshold: 5 },
      () => {},
    );
    expect(text).toMatch(
      /^1440 points; baseline robust over 120 min \(at least 20 points\), threshold 5, 2 in a row: \d+ flagged in 2 episodes\n/,
    );
    expect(text).toContain('2026-03-01T06:01:00.000Z');
    expect(() => duration('--window')('soon')).toThrow(/--window must be a positive duration/);
    expect(duration('--window')('90s')).toBe(90_000);
    expect(() => detectCsv('/nonexistent.csv', { time: 't', value: 'v' }, () => {})).toThrow(/cannot read \/nonexistent.csv/);
    const ops = buildProgram().commands.find((c) => c.name() === 'ops');
    expect(ops?.commands.map((c) => c.name())).toEqual(expect.arrayContaining(['detect-csv', 'evaluate']));
  });
});

/** A trace file: 1-s rounds of ~1,000 records/s; from round 200 to 220 the throughput falls to 0 (the injected fault). */
function traceFile(stallAt = 200): string {
  const w = new TraceWriter({
    scrapeMs: 1_000,
    targets: ['ingest'],
    recordedAt: 0,
    commit: 'test',
    description: 'a stall',
    slos: [],
  });
  const t0 = Date.parse('2026-12-06T00:00:00Z');
  for (let i = 0; i < 400; i++)
    w.round(t0 + i * 1_000, [
      { target: 'ingest', key: 'ingest:up', name: 'up', as: 'gauge', value: 1 },
      {
        target: 'ingest',
        key: 'ingest:rate(txmon_ingest_records_total{outcome="valid"})',
        name: 'txmon_ingest_records_total',
        as: 'rate',
        value: i >= stallAt && i < stallAt + 20 ? 0 : 1_000 + ((i * 7919) % 41) - 20,
      },
    ]);
  w.fault({
    name: 'stall',
    start: t0 + 199_500,
    end: t0 + 219_500,
    effect: 'txmon_ingest_records_total',
    direction: 'down',
    description: '',
  });
  const file = join(mkdtempSync(join(tmpdir(), 'txmon-ops-')), 'trace.jsonl.gz');
  writeFileSync(file, w.bytes(true));
  return file;
}

/**
 * A raw trace (txmon-ops-trace/2) of 600 1-s scrapes of an ingest's page: ~1,000 valid records/s,
 * none from round 400 to 430 (the injected stall).
 */
function rawTraceFile(): string {
  const w = new TraceWriter(
    { scrapeMs: 1_000, targets: ['ingest'], recordedAt: 0, commit: 'test', description: 'a stall, raw', slos: [] },
    { raw: true },
  );
  const reader = new ScrapeReader(() => true);
  const t0 = Date.parse('2026-12-08T00:00:00Z');
  let valid = 0;
  for (let i = 0; i < 600; i++) {
    if (i < 400 || i >= 430) valid += 1_000 + ((i * 7919) % 41) - 20;
    const time = t0 + i * 1_000;
    const raw = [
      {
        target: 'ingest',
        scrape: readScrape(
          `# TYPE txmon_ingest_records_total counter\ntxmon_ingest_records_total{outcome="valid"} ${valid}\n`,
          time,
        ),
      },
    ];
    w.round(time, reader.readScrapes(time, raw), raw);
  }
  w.fault({
    name: 'stall',
    start: t0 + 399_500,
    end: t0 + 429_500,
    effect: 'txmon_ingest_records_total',
    direction: 'down',
    description: '',
  });
  const file = join(mkdtempSync(join(tmpdir(), 'txmon-ops-')), 'raw.jsonl.gz');
  writeFileSync(file, w.bytes(true));
  return file;
}

describe('txmon ops evaluate', () => {
  const cfg = loadConfig({});
  it('replays a trace with both baselines: the fault detected a scrape after its effect, nothing raised before it, the targets read', () => {
    const file = traceFile();
    const r = JSON.parse(evaluateCommand([file], { json: true }, cfg)) as EvaluateReport;
    expect(Object.keys(r.traces[0]?.results ?? {})).toEqual(['robust', 'zscore']);
    const robust = r.traces[0]?.results.robust;
    expect(robust?.faults[0]).toMatchObject({
      name: 'stall',
      delayScrapes: 2,
      firstMover: 'ingest:rate(txmon_ingest_records_total{outcome="valid"})',
    });
    expect(robust?.falseAlarms).toEqual([]);
    // No alarm in 3.3 min of clean time is consistent with the target, but shows nothing.
    expect(r.targets.robust?.falseAlarms.verdict).toBe('consistent');
    expect(r.targets.robust?.detection).toMatchObject({ met: true, faults: 1, detectedInTime: 1 });
    expect(r.targets.robust?.lagLead).toMatchObject({ met: false, breaches: 0 });
    const text = evaluateCommand([file], { method: 'robust', persist: 2 }, cfg);
    expect(text).toContain('2 in a row');
    expect(text).toContain('stall            effect 0.5 s after the start, detected 1 scrape after it');
    expect(text).not.toContain('zscore');
    // A trace without a lag breach cannot say whether breaches are predicted in time.
    expect(text).toContain('lag breaches predicted at least 60 s ahead: not measured (no lag breach in these traces)');
  });

  it('a stall nobody injected is a false alarm; an unreadable file is refused naming it and the line', () => {
    const file = traceFile();
    const text = readFileSync(file);
    const noFault = join(mkdtempSync(join(tmpdir(), 'txmon-ops-')), 'clean.jsonl');
    writeFileSync(
      noFault,
      gunzipSync(text)
        .toString()
        .split('\n')
        .filter((l) => !l.startsWith('{"fault"'))
        .join('\n'),
    );
    const r = evaluateTraces([noFault], { method: 'robust' }, cfg);
    expect(r.traces[0]?.results.robust?.falseAlarms.map((a) => a.firstMover)).toEqual([
      'ingest:rate(txmon_ingest_records_total{outcome="valid"})',
    ]);
    expect(r.targets.robust?.falseAlarms).toMatchObject({ verdict: 'not met', count: 1 });
    expect(poissonUpper95(0)).toBeCloseTo(2.996, 3);
    // χ² quantiles: the exact bounds for 1 and 5 events are 4.744 and 10.513.
    expect(poissonUpper95(1)).toBeCloseTo(4.744, 1);
    expect(poissonUpper95(5)).toBeCloseTo(10.513, 1);
    const bad = join(mkdtempSync(join(tmpdir(), 'txmon-ops-')), 'bad.jsonl');
    writeFileSync(bad, '{"format":"txmon-ops-trace/1","scrapeMs":1000}\nnot json\n');
    expect(() => evaluateTraces([bad], {}, cfg)).toThrow(InputError);
    expect(() => evaluateTraces([bad], {}, cfg)).toThrow(/bad\.jsonl: line 2: not JSON/);
  });
});

describe('txmon ops evaluate --scrape-interval', () => {
  const cfg = loadConfig({});
  it('replays a raw trace as if scraped every 3 s: a third of the rounds, the delay counted in 3-s scrapes, both intervals said', async () => {
    const file = rawTraceFile();
    const at1 = evaluateTraces([file], { method: 'robust' }, cfg).traces[0];
    expect(at1).toMatchObject({ recordedScrapeMs: 1_000, replayedScrapeMs: 1_000 });
    expect(at1?.results.robust).toMatchObject({ scrapeMs: 1_000, rounds: 600 });
    const out: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string) => out.push(String(chunk)) > 0) as typeof process.stdout.write;
    try {
      await main(['node', 'txmon', 'ops', 'evaluate', file, '--scrape-interval', '3s', '--method', 'robust', '--json']);
    } finally {
      process.stdout.write = write;
    }
    const t = (JSON.parse(out.join('')) as EvaluateReport).traces[0];
    expect(t).toMatchObject({ recordedScrapeMs: 1_000, replayedScrapeMs: 3_000, header: { scrapeMs: 1_000 } });
    const e = t?.results.robust;
    expect(e).toMatchObject({ scrapeMs: 3_000, rounds: 200 });
    // The first 3-s round in the stall is round 402 (its rate from round 399); flagged at the third in a row, 408.
    const t0 = Date.parse('2026-12-08T00:00:00Z');
    expect(e?.faults[0]).toMatchObject({ effectAt: t0 + 402_000, detectedAt: t0 + 408_000, delayScrapes: 2 });
    expect(e?.falseAlarms).toEqual([]);
    const text = evaluateCommand([file], { method: 'robust', scrapeInterval: 3_000 }, cfg);
    expect(text).toContain(`${file}: 200 rounds replayed 3.0 s apart, recorded 1.0 s apart (9.9 min)`);
    expect(text).toContain('detected 2 scrapes after it');
    expect(duration('--scrape-interval')('15s')).toBe(15_000);
  });

  it('refuses an interval that is not a whole multiple of the recorded one, and a trace of derived values only, naming the file', () => {
    const raw = rawTraceFile();
    for (const [ms, said] of [
      [2_500, '2.5 s'],
      [500, '0.5 s'],
    ] as const) {
      expect(() => evaluateTraces([raw], { scrapeInterval: ms }, cfg)).toThrow(InputError);
      expect(() => evaluateTraces([raw], { scrapeInterval: ms }, cfg)).toThrow(
        `${raw}: --scrape-interval ${said} is not a whole multiple of the trace's recorded interval, 1 s`,
      );
    }
    const derived = traceFile();
    expect(() => evaluateTraces([raw, derived], { scrapeInterval: 15_000 }, cfg)).toThrow(InputError);
    expect(() => evaluateTraces([raw, derived], { scrapeInterval: 15_000 }, cfg)).toThrow(
      `${derived}: --scrape-interval 15 s: the trace is txmon-ops-trace/1, which keeps derived values only`,
    );
  });
});

/**
 * A labelled file like SKAB's (`;`-separated, gzip-compressed): 600 one-second rows of two sensors
 * around 10 and 20; rows 300–359 labelled 1, where `flow` steps to 40 (`temp` does not move); a
 * 3-row blip of `temp` at rows 100–102, labelled 0 (a false alarm).
 */
function labelledFile(name = 'run.csv.gz', label = (i: number): string => (i >= 300 && i < 360 ? '1.0' : '0.0')): string {
  const rows = ['datetime;flow;temp;anomaly;changepoint'];
  const start = Date.parse('2020-03-09T10:00:00Z');
  for (let i = 0; i < 600; i++) {
    const flow = i >= 300 && i < 360 ? 40 : 10 + ((i * 7919) % 5) / 10;
    const temp = i >= 100 && i < 103 ? 80 : 20 + ((i * 104729) % 7) / 10;
    const t = new Date(start + i * 1_000).toISOString().replace('T', ' ').slice(0, 19);
    rows.push(`${t};${flow};${temp};${label(i)};${i === 300 ? '1.0' : '0.0'}`);
  }
  const file = join(mkdtempSync(join(tmpdir(), 'txmon-ops-')), name);
  writeFileSync(file, name.endsWith('.gz') ? gzipSync(`${rows.join('\n')}\n`) : `${rows.join('\n')}\n`);
  return file;
}

const SKAB_LIKE = { time: 'datetime', label: 'anomaly', exclude: ['changepoint'], delimiter: ';' };

describe('txmon ops evaluate-csv', () => {
  it('finds the labelled window in the series that moves, counts the blip as one false alarm, both baselines, any column (JSON)', () => {
    const said: string[] = [];
    const r = JSON.parse(
      evaluateCsvCommand([labelledFile()], { ...SKAB_LIKE, json: true }, (l) => said.push(l)),
    ) as EvaluateCsvReport;
    expect(r.params).toMatchObject({
      methods: ['robust', 'zscore'],
      toleranceMs: 60_000,
      timeColumn: 'datetime',
      labelColumn: 'anomaly',
    });
    expect(r.params.detector).toMatchObject({ threshold: 3.5, persist: 2, windowMs: 3_600_000, minPoints: 20 });
    const f = r.files[0];
    expect(f?.windows).toEqual([{ from: '2020-03-09T10:05:00.000Z', to: '2020-03-09T10:05:59.000Z', rows: 60 }]);
    expect(f?.series.map((s) => [s.column, s.points, s.skipped])).toEqual([
      ['flow', 600, 0],
      ['temp', 600, 0],
    ]);
    const [flow, temp] = [f?.series[0]?.results.robust, f?.series[1]?.results.robust];
    // The step is flagged at its second point (persist 2): 1 s after the window starts.
    expect(flow).toMatchObject({ windows: 1, detected: 1, recall: 1, delays: [{ rows: 1, ms: 1_000 }] });
    expect(temp).toMatchObject({ windows: 1, detected: 0, recall: 0, falseAlarms: 1 });
    // Normal time: from the 21st row (the first scored) to the window, and from 60 s after it to the end.
    expect(temp?.normalMs).toBe((280 + 180) * 1_000);
    expect(f?.any.robust).toMatchObject({ detected: 1, falseAlarms: (flow?.falseAlarms ?? 0) + 1 });
    expect(r.totals.robust?.series).toMatchObject({ series: 2, windows: 2, detected: 1, recall: 0.5, medianDelayMs: 1_000 });
    expect(r.totals.robust?.any).toMatchObject({ series: 1, windows: 1, detected: 1 });
    expect(Object.keys(r.totals)).toEqual(['robust', 'zscore']);
    expect(f?.series[0]?.results.zscore?.windows).toBe(1);
    expect(said).toEqual([]);
  });

  it('a file with no window has false alarms only; an unlabelled one is all normal under --unlabelled-clean, else refused', () => {
    const none = labelledFile('none.csv', () => '0');
    const r = evaluateCsv([none], { ...SKAB_LIKE, method: 'robust' }, () => {});
    expect(r.files[0]?.windows).toEqual([]);
    expect(r.files[0]?.series[1]?.results.robust).toMatchObject({ windows: 0, recall: null, falseAlarms: 1 });
    expect(r.totals.zscore).toBeUndefined();
    const dir = mkdtempSync(join(tmpdir(), 'txmon-ops-'));
    const clean = join(dir, 'clean.csv');
    writeFileSync(clean, 'time,v\n' + Array.from({ length: 50 }, (_, i) => `${i * 1_000},${i % 3}`).join('\n'));
    expect(() => evaluateCsv([clean], { time: 'time', label: 'anomaly' }, () => {})).toThrow(
      `${clean}: --label: no column "anomaly" in the header (columns: time, v)`,
    );
    const said: string[] = [];
    // SKAB's anomaly-free file: no label column, read as clean beside labelled ones.
    const free = join(dir, 'anomaly-free.csv');
    writeFileSync(
      free,
      'datetime;flow;temp\n' +
        Array.from({ length: 50 }, (_, i) => `2020-03-09 11:00:${String(i).padStart(2, '0')};${10 + (i % 3)};20`).join('\n'),
    );
    const c = evaluateCsv([none, free], { ...SKAB_LIKE, unlabelledClean: true }, (l) => said.push(l));
    expect(c.files[1]).toMatchObject({ labelled: false, windows: [] });
    expect(said).toContain(`${free}: no anomaly column: read as all normal (--unlabelled-clean)`);
    // Only unlabelled files (a misspelt --label): nothing to measure, refused.
    expect(() => evaluateCsv([clean], { time: 'time', label: 'anomaly', unlabelledClean: true }, () => {})).toThrow(
      'none of the 1 file(s) has the label column anomaly: nothing to measure recall on (check --label)',
    );
  });

  it('says what it skipped and sorted; refuses a bad label naming the file, the line and the value', () => {
    const dir = mkdtempSync(join(tmpdir(), 'txmon-ops-'));
    const messy = join(dir, 'messy.csv');
    const rows = ['time,v,w,host,anomaly'];
    for (let i = 0; i < 40; i++) rows.push(`${(40 - i) * 1_000},${i % 2 === 0 ? i % 5 : 'n/a'},${i % 3},h,0`);
    rows.push('1000,1,2,h,0');
    writeFileSync(messy, `${rows.join('\n')}\n`);
    const said: string[] = [];
    const r = evaluateCsv([messy], { time: 'time', label: 'anomaly' }, (l) => said.push(l));
    expect(r.files[0]).toMatchObject({ rows: 41, sorted: true, duplicateTimes: 1 });
    expect(r.files[0]?.series.map((s) => [s.column, s.skipped])).toEqual([
      ['v', 20],
      ['w', 0],
    ]);
    expect(said).toEqual([
      `${messy}: rows were out of time order; read in time order`,
      `${messy}: 1 rows with the same time as the row before (kept)`,
      `${messy}: no number in host: left out`,
      `${messy}: 20 empty or non-numeric cells in v skipped`,
    ]);
    const bad = labelledFile('bad.csv', (i) => (i === 7 ? 'yes' : '0'));
    expect(() => evaluateCsv([bad], SKAB_LIKE, () => {})).toThrow(`${bad}: line 9: "yes" in anomaly is not 0 or 1`);
    expect(() => evaluateCsv(['/nonexistent.csv'], SKAB_LIKE, () => {})).toThrow(/cannot read \/nonexistent.csv/);
    expect(() => evaluateCsv([bad], { ...SKAB_LIKE, value: ['pressure'] }, () => {})).toThrow(
      `${bad}: --value: no column "pressure" in the header (columns: datetime, flow, temp, anomaly, changepoint)`,
    );
  });

  it('prints a table per file and the totals; through the command line, the options reach it', async () => {
    const file = labelledFile();
    const text = evaluateCsvCommand([file], { ...SKAB_LIKE, threshold: 5, persist: 3 }, () => {});
    expect(text).toContain('threshold 5, 3 in a row; a flag up to 60 s after a window detects it');
    expect(text).toContain(`${file}: 600 rows; 1 window (2020-03-09T10:05:00.000Z to 2020-03-09T10:05:59.000Z, 60 rows)`);
    expect(text).toMatch(/\n {2}flow +\| +1\/1 +2 s +\d+ +[\d.]+ +\| +1\/1 /);
    expect(text).toMatch(/\n {2}any column +\| +1\/1 +2 s /);
    expect(text).toContain('robust per series: 1 of 2 windows detected (50.0 %; random alarms of its habits:');
    expect(text).toContain('zscore any column: 1 of 1 windows detected (100.0 %');
    const out: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string) => out.push(String(chunk)) > 0) as typeof process.stdout.write;
    try {
      await main([
        'node',
        'txmon',
        'ops',
        'evaluate-csv',
        file,
        '--time',
        'datetime',
        '--label',
        'anomaly',
        '--delimiter',
        ';',
        '--value',
        'temp',
        '--value',
        'flow',
        '--method',
        'zscore',
        '--tolerance',
        '0',
        '--persist',
        '1',
        '--json',
      ]);
    } finally {
      process.stdout.write = write;
    }
    const r = JSON.parse(out.join('')) as EvaluateCsvReport;
    expect(r.params).toMatchObject({ methods: ['zscore'], toleranceMs: 0, detector: { persist: 1 } });
    expect(r.files[0]?.series.map((s) => s.column)).toEqual(['temp', 'flow']);
    expect(delimiter('\\t')).toBe('\t');
    expect(() => delimiter(';;')).toThrow(/--delimiter must be one character/);
    expect(nonNegativeDuration('--tolerance')('0')).toBe(0);
    expect(nonNegativeDuration('--tolerance')('2m')).toBe(120_000);
    const ops = buildProgram().commands.find((c) => c.name() === 'ops');
    expect(ops?.commands.map((c) => c.name())).toContain('evaluate-csv');
  });

  it('detect-csv reads the same files: another delimiter, gzip-compressed', () => {
    const r = detectCsv(labelledFile(), { time: 'datetime', value: 'flow', delimiter: ';' }, () => {});
    expect(r.points).toBe(600);
    expect(r.episodes[0]?.from).toBe('2020-03-09T10:05:01.000Z');
  });
});
