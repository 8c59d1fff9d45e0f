import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { csvText, parseCsvRows, parseSeriesTime, readSeriesCsv } from './series-csv.ts';

describe('a series from CSV', () => {
  it('reads ISO 8601 (a time with no zone is UTC) and epoch-ms times, in time order, empty values as gaps', () => {
    const csv =
      'timestamp,value,host\n2026-01-01 00:02:00,3.5,a\n2026-01-01T00:00:00Z,1,a\n1767225660000,2,a\n2026-01-01T00:03:00+01:00,,a\n';
    const s = readSeriesCsv(csv, 'timestamp', 'value');
    expect(s.points).toEqual([
      [Date.parse('2026-01-01T00:00:00Z'), 1],
      [Date.parse('2026-01-01T00:01:00Z'), 2],
      [Date.parse('2026-01-01T00:02:00Z'), 3.5],
    ]);
    expect(s.gaps).toBe(1);
    expect(s.sorted).toBe(true);
    expect(parseSeriesTime('2026-01-01T00:00:00+02:00')).toBe(Date.parse('2025-12-31T22:00:00Z'));
  });

  it('says which column is missing and which line holds a bad time or value', () => {
    const csv = 'time,v\n2026-01-01T00:00:00Z,1\nyesterday,2\n';
    expect(() => readSeriesCsv(csv, 'ts', 'v')).toThrow('--time: no column "ts" in the header (columns: time, v)');
    expect(() => readSeriesCsv(csv, 'time', 'value')).toThrow(/--value: no column "value"/);
    expect(() => readSeriesCsv(csv, 'time', 'v')).toThrow('line 3: "yesterday" in time is not an ISO 8601 time or epoch ms');
    expect(() => readSeriesCsv('time,v\n2026-01-01T00:00:00Z,12abc\n', 'time', 'v')).toThrow(
      'line 2: "12abc" in v is not a number',
    );
  });

  it('takes another delimiter, gzip-compressed bytes as text, and counts empty lines in the line it names', () => {
    const csv = 'time;v\n2026-01-01T00:00:00Z;1,5\n\n2026-01-01T00:01:00Z;x\n';
    expect(() => readSeriesCsv(csv, 'time', 'v', { delimiter: ';' })).toThrow('line 2: "1,5" in v is not a number');
    expect(() => readSeriesCsv(csv.replace('1,5', '1.5'), 'time', 'v', { delimiter: ';' })).toThrow(
      'line 4: "x" in v is not a number',
    );
    expect(parseCsvRows('a\tb\n1\t2\n', { delimiter: '\t' }).map((r) => [r.cells, r.line])).toEqual([
      [['a', 'b'], 1],
      [['1', '2'], 2],
    ]);
    expect(() => parseCsvRows('a,b\n', { delimiter: ';;' })).toThrow('--delimiter must be one character, got ";;"');
    const text = 'time,v\n2026-01-01T00:00:00Z,1\n';
    expect(csvText(gzipSync(text))).toBe(text);
    expect(csvText(Buffer.from(text))).toBe(text);
    expect(() => csvText(Buffer.from([0x1f, 0x8b, 1, 2, 3]))).toThrow(/not a readable gzip file/);
  });
});
