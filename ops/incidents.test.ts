import { describe, expect, it } from 'vitest';
import { IncidentTracker, type FlaggedSeries } from './incidents.ts';

const S = 15_000; // a scrape interval
const flag = (key: string, startedAt: number, score: number): FlaggedSeries => ({
  key,
  startedAt,
  value: score * 10,
  baseline: 0,
  score,
});

describe('ops incidents', () => {
  it('groups series flagged within groupMs into one incident and names the one whose run began first', () => {
    const t = new IncidentTracker({ groupMs: 3 * S, quietMs: 4 * S });
    // Latency p99 flagged first, but lag's run had begun a scrape earlier (it needed its second point).
    const a = t.observe(10 * S, [flag('p99(batch)', 10 * S, 6)]);
    expect(a.opened?.firstMover).toBe('p99(batch)');
    const b = t.observe(11 * S, [flag('lag', 9 * S, 12), flag('p99(batch)', 10 * S, 8)]);
    expect(b.opened).toBeNull();
    expect(b.updated?.firstMover).toBe('lag');
    expect([...(b.updated?.series.keys() ?? [])]).toEqual(['p99(batch)', 'lag']);
    expect(b.updated?.series.get('p99(batch)')?.peakScore).toBe(8);
    // Nothing new: no update; then quiet for longer than quietMs: closed.
    expect(t.observe(12 * S, [flag('lag', 9 * S, 5)])).toEqual({ opened: null, updated: null, closed: null });
    expect(t.observe(14 * S, []).closed).toBeNull();
    const closed = t.observe(17 * S, []).closed;
    expect(closed?.closedAt).toBe(17 * S);
    expect(closed?.id).toBe(a.opened?.id);
    expect(t.current).toBeNull();
  });

  it('a flag after the group window opens a new incident (closing the old); ids are stable for the same first mover and start', () => {
    const t = new IncidentTracker({ groupMs: 2 * S, quietMs: 10 * S });
    const first = t.observe(S, [flag('dlq', S, 9)]).opened;
    const next = t.observe(5 * S, [flag('lag', 5 * S, 7)]);
    expect(next.closed?.id).toBe(first?.id);
    expect(next.opened?.firstMover).toBe('lag');
    const again = new IncidentTracker({ groupMs: 2 * S, quietMs: 10 * S }).observe(S, [flag('dlq', S, 4)]).opened;
    expect(again?.id).toBe(first?.id);
    expect(again?.id).toMatch(/^ops-[0-9a-f]{24}$/);
    expect(() => new IncidentTracker({ groupMs: 0, quietMs: 1 })).toThrow(/positive/);
  });
});
