import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildProgram } from './main.ts';
import { detectCsv, detectCsvCommand, type DetectCsvReport } from './ops.actions.ts';
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
      { time: 'time', value: 'requests', window: duration('2h'), threshold: 5 },
      () => {},
    );
    expect(text).toMatch(
      /^1440 points; baseline robust over 120 min \(at least 20 points\), threshold 5, 2 in a row: \d+ flagged in 2 episodes\n/,
    );
    expect(text).toContain('2026-03-01T06:01:00.000Z');
    expect(() => duration('soon')).toThrow(/--window must be a positive duration/);
    expect(duration('90s')).toBe(90_000);
    expect(() => detectCsv('/nonexistent.csv', { time: 't', value: 'v' }, () => {})).toThrow(/cannot read \/nonexistent.csv/);
    const ops = buildProgram().commands.find((c) => c.name() === 'ops');
    expect(ops?.commands.map((c) => c.name())).toContain('detect-csv');
  });
});
