import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildProgram } from './main.ts';
import { loadConfig } from '../config/config.ts';
import { TraceWriter } from '../ops/trace.ts';
import { InputError } from '../platform/errors.ts';
import {
  detectCsv,
  detectCsvCommand,
  evaluateCommand,
  evaluateTraces,
  poissonUpper95,
  type DetectCsvReport,
  type EvaluateReport,
} from './ops.actions.ts';
import { duration } from './ops.command.ts';

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
