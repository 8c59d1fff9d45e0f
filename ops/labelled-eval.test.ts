import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_DETECTOR, scoreSeries } from './detector.ts';
import {
  anyColumn,
  chanceOfDetection,
  evaluateRows,
  evaluateTable,
  labelWindows,
  type RowState,
  rowStates,
  type SeriesEvaluation,
  totals,
} from './labelled-eval.ts';

const DAY_MS = 86_400_000;

/** The windows as their definition reads: [i, j] all 1, with no 1 just before i or just after j. */
function bruteWindows(labels: ReadonlyArray<0 | 1>): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let i = 0; i < labels.length; i++)
    for (let j = i; j < labels.length; j++) {
      const all = labels.slice(i, j + 1).every((l) => l === 1);
      if (all && (i === 0 || labels[i - 1] === 0) && (j === labels.length - 1 || labels[j + 1] === 0)) out.push([i, j]);
    }
  return out;
}

/**
 * The measures as the module's comment defines them, recomputed row by row with no shared state: a
 * row is in window k's span when it is in the window, or after it, before the next window, and
 * within the tolerance of its last row.
 */
function bruteEvaluate(times: number[], labels: Array<0 | 1>, states: RowState[], tol: number): SeriesEvaluation {
  const ws = bruteWindows(labels);
  const spanOf = (i: number): number => {
    for (let k = 0; k < ws.length; k++) {
      const [a, b] = ws[k] as [number, number];
      const next = ws[k + 1]?.[0] ?? Infinity;
      if ((i >= a && i <= b) || (i > b && i < next && (times[i] as number) - (times[b] as number) <= tol)) return k;
    }
    return -1;
  };
  const delays = ws.map(([a], k) => {
    const i = times.findIndex((_, r) => spanOf(r) === k && states[r] === 'flag');
    return i < 0 ? null : { rows: i - a, ms: (times[i] as number) - (times[a] as number) };
  });
  const outsideFlag = (i: number) => states[i] === 'flag' && spanOf(i) === -1;
  let falseAlarms = 0;
  for (let i = 0; i < times.length; i++) {
    if (!outsideFlag(i)) continue;
    let j = i - 1;
    while (j >= 0 && states[j] === 'gap') j--;
    if (j < 0 || !outsideFlag(j)) falseAlarms++;
  }
  let normalMs = 0;
  let alarmMs = 0;
  for (let i = 1; i < times.length; i++)
    if (spanOf(i) === -1 && (states[i] === 'ok' || states[i] === 'flag')) {
      normalMs += (times[i] as number) - (times[i - 1] as number);
      if (states[i] === 'flag') alarmMs += (times[i] as number) - (times[i - 1] as number);
    }
  // In alarm at the window's start (the share of normal time flagged), or an alarm starting in its span.
  const inAlarm = normalMs === 0 ? 0 : alarmMs / normalMs;
  const quiet = normalMs - alarmMs;
  const chance = ws.map(([a], k) => {
    const last = Math.max(...times.map((_, r) => (spanOf(r) === k ? r : -1)));
    const len = (times[last] as number) - (times[a] as number);
    return quiet <= 0 ? inAlarm : 1 - (1 - inAlarm) * Math.exp(-(falseAlarms / quiet) * len);
  });
  const detected = delays.filter((d) => d !== null).length;
  return {
    windows: ws.length,
    detected,
    recall: ws.length === 0 ? null : detected / ws.length,
    chanceRecall: ws.length === 0 ? null : chance.reduce((x, y) => x + y, 0) / ws.length,
    delays,
    flagged: states.filter((s) => s === 'flag').length,
    falseAlarms,
    normalMs,
    falseAlarmsPerDay: normalMs === 0 ? null : (falseAlarms * DAY_MS) / normalMs,
  };
}

/** Random rows: ascending times (steps of 0 make duplicates), labels with runs, and each row's state. */
const rowsArb = fc
  .array(
    fc.record({
      step: fc.integer({ min: 0, max: 3 }),
      label: fc.constantFrom<0 | 1>(0, 0, 1),
      state: fc.constantFrom<RowState>('gap', 'warm', 'ok', 'ok', 'flag', 'flag'),
    }),
    { maxLength: 60 },
  )
  .map((rows) => {
    let t = 1_000;
    const times = rows.map((r) => (t += r.step * 1_000));
    return { times, labels: rows.map((r) => r.label), states: rows.map((r) => r.state) };
  });

describe('labelled windows and what the detector found in them', () => {
  it('extracts the windows as the maximal runs of 1, as their definition reads (random labels)', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom<0 | 1>(0, 1), { maxLength: 80 }), (labels) => {
        expect(labelWindows(labels).map((w) => [w.first, w.last])).toEqual(bruteWindows(labels));
      }),
      { numRuns: 300 },
    );
  });

  it('counts detections, delays, false-alarm events, normal time and chance recall as recomputed row by row (random rows)', () => {
    fc.assert(
      fc.property(rowsArb, fc.constantFrom(0, 1_000, 2_500, 10_000), ({ times, labels, states }, tol) => {
        const got = evaluateRows(times, labelWindows(labels), states, tol);
        const want = bruteEvaluate(times, labels, states, tol);
        expect({ ...got, chanceRecall: null }).toEqual({ ...want, chanceRecall: null });
        if (want.chanceRecall === null) expect(got.chanceRecall).toBeNull();
        else expect(got.chanceRecall).toBeCloseTo(want.chanceRecall, 12);
      }),
      { numRuns: 500 },
    );
  });

  it('the any-column view flags a row when any series flags it, and the totals sum the series (random rows)', () => {
    fc.assert(
      fc.property(
        rowsArb,
        fc.array(fc.array(fc.constantFrom<RowState>('gap', 'warm', 'ok', 'flag'), { maxLength: 60 }), { maxLength: 4 }),
        (r, cols) => {
          const n = r.times.length;
          const columns = [
            r.states,
            ...cols.map((c) => Array.from({ length: n }, (_, i) => c[i % Math.max(1, c.length)] ?? 'gap')),
          ];
          const any = anyColumn(columns, n);
          for (let i = 0; i < n; i++) {
            const here = columns.map((c) => c[i]);
            const want = here.includes('flag') ? 'flag' : here.includes('ok') ? 'ok' : here.includes('warm') ? 'warm' : 'gap';
            expect(any[i]).toBe(want);
          }
          const evals = columns.map((c) => evaluateRows(r.times, labelWindows(r.labels), c, 1_000));
          const t = totals(evals);
          const windows = evals.reduce((s, e) => s + e.windows, 0);
          const detected = evals.reduce((s, e) => s + e.detected, 0);
          const falseAlarms = evals.reduce((s, e) => s + e.falseAlarms, 0);
          const normalMs = evals.reduce((s, e) => s + e.normalMs, 0);
          expect(t).toMatchObject({ series: columns.length, windows, detected, falseAlarms, normalMs });
          expect(t.recall).toBe(windows === 0 ? null : detected / windows);
          expect(t.falseAlarmsPerDay).toBe(normalMs === 0 ? null : (falseAlarms * DAY_MS) / normalMs);
          const delays = evals.flatMap((e) => e.delays.filter((d) => d !== null).map((d) => d.ms)).sort((a, b) => a - b);
          if (delays.length === 0) expect(t.medianDelayMs).toBeNull();
          else {
            // The median: as many delays at or below it as at or above it.
            const m = t.medianDelayMs as number;
            expect(delays.filter((d) => d <= m).length).toBeGreaterThanOrEqual(delays.length / 2);
            expect(delays.filter((d) => d >= m).length).toBeGreaterThanOrEqual(delays.length / 2);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('a column scored by the detector: its own points (missing cells aside) flagged as detect-csv flags them', () => {
    fc.assert(
      fc.property(fc.array(fc.option(fc.integer({ min: -20, max: 20 }), { nil: null, freq: 5 }), { maxLength: 80 }), (values) => {
        const times = values.map((_, i) => i * 1_000);
        const p = { ...DEFAULT_DETECTOR, minPoints: 5, persist: 1 };
        const states = rowStates(times, values, p);
        const points = values.flatMap((v, i) => (v === null ? [] : [[times[i] as number, v] as [number, number]]));
        const scored = scoreSeries(points, p);
        expect(states.filter((s) => s !== 'gap').length).toBe(points.length);
        expect(states.filter((s) => s !== 'gap')).toEqual(
          scored.map((s) => (s.baseline === null ? 'warm' : s.flagged ? 'flag' : 'ok')),
        );
        values.forEach((v, i) => v === null && expect(states[i]).toBe('gap'));
      }),
      { numRuns: 100 },
    );
  });

  it('worked example: a step inside a window is found with its delay; a blip outside is one false alarm; a file with no window has false alarms only', () => {
    // 100 one-second rows around 10; rows 60–79 labelled 1, and the value steps to 50 there; a 2-row blip at rows 30–31.
    const times = Array.from({ length: 100 }, (_, i) => i * 1_000);
    const labels = times.map((_, i) => (i >= 60 && i < 80 ? 1 : 0)) as Array<0 | 1>;
    const value = (i: number) => (i >= 60 && i < 80 ? 50 : i === 30 || i === 31 ? 90 : 10 + (i % 3));
    const table = {
      columns: ['v'],
      times,
      labels,
      values: [times.map((_, i) => value(i))],
      skipped: [0],
      labelled: true,
      sorted: false,
      duplicateTimes: 0,
      ignored: [],
    };
    const e = evaluateTable(table, { robust: { ...DEFAULT_DETECTOR, persist: 2 } }, 5_000);
    expect(e.windows).toEqual([{ first: 60, last: 79 }]);
    const r = e.series[0]?.results.robust as SeriesEvaluation;
    // Flagged at the step's second point (persist 2), 1 s after the window's start.
    expect(r).toMatchObject({ windows: 1, detected: 1, recall: 1, delays: [{ rows: 1, ms: 1_000 }], falseAlarms: 1 });
    // Normal time: rows 20 (the first scored) to 59 and 85 to 99, each the second since the row before.
    expect(r.normalMs).toBe((40 + 15) * 1_000);
    expect(r.falseAlarmsPerDay).toBeCloseTo(DAY_MS / 55_000, 9);
    expect(e.any.robust).toEqual(r);
    const clean = evaluateTable({ ...table, labels: labels.map(() => 0 as const) }, { robust: DEFAULT_DETECTOR }, 5_000);
    expect(clean.series[0]?.results.robust).toMatchObject({ windows: 0, recall: null, chanceRecall: null });
    expect(clean.series[0]?.results.robust?.falseAlarms).toBeGreaterThanOrEqual(1);
  });
});

describe('chance of detection', () => {
  it('counts an alarm under way at the window as a detection by chance, and one starting in its span', () => {
    // Never an alarm: no chance; always in alarm: certain; no time scored: nothing to go by.
    expect(chanceOfDetection(1_000, 0, 0, 500)).toBe(0);
    expect(chanceOfDetection(1_000, 1_000, 3, 500)).toBe(1);
    expect(chanceOfDetection(0, 0, 0, 500)).toBe(0);
    // Half of normal time in alarm, 5 starts in 50 ms of quiet (0.1 a ms), a 10-ms span: 1 - 0.5 e^-1.
    expect(chanceOfDetection(100, 50, 5, 10)).toBeCloseTo(1 - 0.5 * Math.exp(-1), 12);
    // Few long alarms: the starts alone (1 - e^(-1/1000 * 10) < 1 %) would miss the 90 % of the time in alarm.
    expect(chanceOfDetection(10_000, 9_000, 1, 10)).toBeGreaterThan(0.9);
  });
});

describe('totals', () => {
  const series = (
    windows: number,
    detected: number,
    chance: number | null,
    delaysMs: Array<number | null>,
    falseAlarms = 0,
    normalMs = 0,
  ) => ({
    windows,
    detected,
    recall: windows === 0 ? null : detected / windows,
    chanceRecall: chance,
    delays: delaysMs.map((ms) => (ms === null ? null : { rows: ms / 1000, ms })),
    flagged: detected,
    falseAlarms,
    normalMs,
    falseAlarmsPerDay: normalMs === 0 ? null : (falseAlarms * 86_400_000) / normalMs,
  });

  it('weights chance recall by windows, takes the mean of the two middle delays, and sums alarms over normal time', () => {
    // Values that tell a weighted mean from a plain one: chance 0.5 over 1 window and 0.2 over 3 is
    // 0.275 weighted, 0.35 plain; 2 alarms in 1/4 day and 1 in 3/4 is 3 a day summed, 4.67 averaged.
    const t = totals([
      series(1, 1, 0.5, [4_000], 2, 21_600_000),
      series(3, 1, 0.2, [null, 10_000, null], 1, 64_800_000),
      series(0, 0, null, []),
    ]);
    expect(t).toMatchObject({
      series: 3,
      windows: 4,
      detected: 2,
      recall: 0.5,
      falseAlarms: 3,
      normalMs: 86_400_000,
      falseAlarmsPerDay: 3,
    });
    expect(t.chanceRecall).toBeCloseTo(0.275, 12);
    expect(t.medianDelayMs).toBe(7_000);
    expect(totals([series(2, 2, 0, [1_000, 9_000]), series(1, 1, 0, [2_000])]).medianDelayMs).toBe(2_000);
    expect(totals([series(0, 0, null, [])])).toMatchObject({
      recall: null,
      chanceRecall: null,
      medianDelayMs: null,
      falseAlarmsPerDay: null,
    });
  });
});
