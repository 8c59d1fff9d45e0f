import { describe, expect, it } from 'vitest';
import { readLabelledCsv } from './labelled-csv.ts';

const OPTS = { time: 't', label: 'anomaly', delimiter: ';' } as const;

describe('a labelled table from CSV', () => {
  it('reads every numeric column but the time and the label (and --exclude), in time order; bad cells are skipped and counted', () => {
    const csv = [
      't;a;b;host;anomaly;changepoint',
      '2020-03-09 10:00:02;3;x;h1;1.0;1.0',
      '2020-03-09 10:00:00;1;10;h1;0.0;0.0',
      '',
      '2020-03-09 10:00:01;;11;h1;0;0',
      '2020-03-09 10:00:01;2;NaN;h1;1;0',
    ].join('\n');
    const t = readLabelledCsv(csv, { ...OPTS, exclude: ['changepoint', 'not-here'] });
    expect(t.columns).toEqual(['a', 'b']);
    expect(t.ignored).toEqual(['host']);
    expect(t.times).toEqual([0, 1_000, 1_000, 2_000].map((d) => Date.parse('2020-03-09T10:00:00Z') + d));
    // Stable: the two rows at 10:00:01 keep their file order.
    expect(t.labels).toEqual([0, 0, 1, 1]);
    expect(t.values).toEqual([
      [1, null, 2, 3],
      [10, 11, null, null],
    ]);
    expect(t.skipped).toEqual([1, 2]);
    expect(t).toMatchObject({ labelled: true, sorted: true, duplicateTimes: 1 });
    // Without --exclude, the changepoint column is a series too; --value picks columns in its own order.
    expect(readLabelledCsv(csv, OPTS).columns).toEqual(['a', 'b', 'changepoint']);
    expect(readLabelledCsv(csv, { ...OPTS, values: ['b', 'a'] }).columns).toEqual(['b', 'a']);
  });

  it('refuses a label other than 0 or 1, a bad time and a missing column, naming the line (empty lines counted) and the cell', () => {
    const csv = 't,v,anomaly\n2026-01-01T00:00:00Z,1,0\n\n2026-01-01T00:00:01Z,2,0.5\n';
    expect(() => readLabelledCsv(csv, { time: 't', label: 'anomaly' })).toThrow('line 4: "0.5" in anomaly is not 0 or 1');
    expect(() => readLabelledCsv('t,v,anomaly\n2026-01-01T00:00:00Z,1,\n', { time: 't', label: 'anomaly' })).toThrow(
      'line 2: "" in anomaly is not 0 or 1',
    );
    // Numbers JavaScript reads as 1 but no labelled file writes: refused, not read as 1.
    for (const cell of ['0x1', '1e0', '+1', ' 1.5'])
      expect(() => readLabelledCsv(`t,v,anomaly\n2026-01-01T00:00:00Z,1,${cell}\n`, { time: 't', label: 'anomaly' })).toThrow(
        `line 2: ${JSON.stringify(cell.trim())} in anomaly is not 0 or 1`,
      );
    expect(
      readLabelledCsv('t,v,anomaly\n2026-01-01T00:00:00Z,1,1.00\n2026-01-01T00:00:01Z,1,0\n', { time: 't', label: 'anomaly' })
        .labels,
    ).toEqual([1, 0]);
    expect(() => readLabelledCsv('t,v,anomaly\nsoon,1,0\n', { time: 't', label: 'anomaly' })).toThrow(
      'line 2: "soon" in t is not an ISO 8601 time or epoch ms',
    );
    expect(() => readLabelledCsv(csv, { time: 't', label: 'label' })).toThrow(
      '--label: no column "label" in the header (columns: t, v, anomaly); --unlabelled-clean reads such a file as all normal',
    );
    expect(() => readLabelledCsv(csv, { time: 't', label: 'anomaly', values: ['w'] })).toThrow('--value: no column "w"');
    expect(() => readLabelledCsv(csv, { time: 't', label: 'anomaly', values: ['anomaly'] })).toThrow(/is the time or the label/);
  });

  it('reads a file without the label column as all normal under unlabelledClean', () => {
    const t = readLabelledCsv('t,v\n1000,1\n2000,2\n', { time: 't', label: 'anomaly', unlabelledClean: true });
    expect(t).toMatchObject({ labelled: false, labels: [0, 0], columns: ['v'], times: [1_000, 2_000], sorted: false });
  });
});
