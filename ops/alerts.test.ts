import { describe, expect, it } from 'vitest';
import { OpsAlertBook } from './alerts.ts';
import { IncidentTracker, type FlaggedSeries } from './incidents.ts';
import type { Prediction, WatchStep } from './watch.ts';

const S = 15_000;
const flag = (key: string, startedAt: number, score: number): FlaggedSeries => ({
  key,
  startedAt,
  value: 100 + score,
  baseline: 100,
  score,
});

describe('ops alerts from the engine’s rounds', () => {
  it('an incident is one alert: a revision when it opens, when a series joins, when it closes; a forecast opens and clears', () => {
    const tracker = new IncidentTracker({ groupMs: 2 * S, quietMs: 3 * S });
    const book = new OpsAlertBook();
    const prediction: Prediction = {
      series: 'ingest:lag',
      limit: 1_000,
      value: 400,
      expectedAt: 20 * S,
      earliestAt: 15 * S,
      latestAt: null,
    };
    const step = (t: number, flagged: FlaggedSeries[], predictions: Prediction[] = [], cleared: string[] = []): WatchStep => ({
      time: t * S,
      points: 3,
      flagged,
      incidents: tracker.observe(t * S, flagged),
      predictions,
      cleared,
    });
    const first = book.changes(step(1, [flag('ingest:p99(latency)', S, 8)], [prediction]));
    expect(first.map((a) => [a.kind, a.status, a.revision, a.firstMover])).toEqual([
      ['ANOMALY', 'OPEN', 1, 'ingest:p99(latency)'],
      ['SLO_FORECAST', 'OPEN', 1, 'ingest:lag'],
    ]);
    expect(first[1]?.summary).toBe('ingest:lag at 400 is forecast to reach 1000 in about 285 s');
    const joined = book.changes(step(2, [flag('ingest:lag', 0, 12)]));
    expect(joined.map((a) => [a.alertId, a.revision, a.firstMover, a.evidence.map((e) => e.series)])).toEqual([
      [first[0]?.alertId, 2, 'ingest:lag', ['ingest:lag', 'ingest:p99(latency)']],
    ]);
    expect(joined[0]?.summary).toBe(
      'ingest:lag moved first (112 against a baseline of 100, score 12); 1 more series moved with it',
    );
    expect(book.changes(step(3, [flag('ingest:lag', 0, 9)]))).toEqual([]); // nothing new
    const later = book.changes(step(7, [], [], ['ingest:lag']));
    expect(later.map((a) => [a.kind, a.status, a.revision, a.closedAt])).toEqual([
      ['ANOMALY', 'CLOSED', 3, 7 * S],
      ['SLO_FORECAST', 'CLOSED', 2, 7 * S],
    ]);
    expect(later[1]?.summary).toMatch(/; no longer forecast$/);
  });
});
