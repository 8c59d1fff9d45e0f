/**
 * Anomalies of several series grouped into ops incidents: series flagged within `groupMs` of the
 * incident's last flag belong to it (co-occurrence: the failures ops-watch is for, a broker paused
 * or MariaDB slowed, move lag, latency and retries within a few scrapes of each other), and the one
 * whose unusual run started first is named as the first mover. An incident closes after `quietMs`
 * with no flag. Pure: ops-watch feeds it each scrape's flagged series.
 */
import { createHash } from 'node:crypto';

/** A series flagged at a scrape. */
export interface FlaggedSeries {
  readonly key: string;
  /** When its run of unusual points began (the first of them, before `persist` made it a flag). */
  readonly startedAt: number;
  readonly value: number;
  readonly baseline: number;
  readonly score: number;
}

export interface IncidentSeries {
  readonly key: string;
  readonly startedAt: number;
  /** The score furthest from 0 while the incident was open, and its value and baseline. */
  peakScore: number;
  peakValue: number;
  peakBaseline: number;
  lastFlaggedAt: number;
}

export interface Incident {
  /** Stable for the same first mover and start: a replayed evaluation names the same incident. */
  readonly id: string;
  readonly openedAt: number;
  firstMover: string;
  lastFlaggedAt: number;
  closedAt: number | null;
  readonly series: Map<string, IncidentSeries>;
}

export interface IncidentParams {
  /** A flag this close to the open incident's last one joins it. */
  readonly groupMs: number;
  /** No flag for this long closes the incident. */
  readonly quietMs: number;
}

/** What one observation changed. */
export interface IncidentChange {
  readonly opened: Incident | null;
  /** The open incident when a series joined it or its first mover changed. */
  readonly updated: Incident | null;
  readonly closed: Incident | null;
}

export class IncidentTracker {
  private open: Incident | null = null;

  constructor(readonly params: IncidentParams) {
    if (!(params.groupMs > 0 && params.quietMs > 0)) throw new RangeError('groupMs and quietMs must be positive');
  }

  get current(): Incident | null {
    return this.open;
  }

  /** The flagged series of a scrape at `time` (times not going backwards). */
  observe(time: number, flagged: readonly FlaggedSeries[]): IncidentChange {
    let closed: Incident | null = null;
    const open = this.open;
    if (open !== null) {
      const since = time - open.lastFlaggedAt;
      if ((flagged.length === 0 && since > this.params.quietMs) || (flagged.length > 0 && since > this.params.groupMs)) {
        open.closedAt = time;
        closed = open;
        this.open = null;
      }
    }
    if (flagged.length === 0) return { opened: null, updated: null, closed };
    let opened: Incident | null = null;
    let incident = this.open;
    if (incident === null) {
      const first = firstMover(flagged);
      incident = {
        id: incidentId(first.key, first.startedAt),
        openedAt: time,
        firstMover: first.key,
        lastFlaggedAt: time,
        closedAt: null,
        series: new Map(),
      };
      this.open = incident;
      opened = incident;
    }
    const before = incident.series.size;
    const mover = incident.firstMover;
    for (const f of flagged) {
      const s = incident.series.get(f.key);
      if (s === undefined)
        incident.series.set(f.key, {
          key: f.key,
          startedAt: f.startedAt,
          peakScore: f.score,
          peakValue: f.value,
          peakBaseline: f.baseline,
          lastFlaggedAt: time,
        });
      else {
        s.lastFlaggedAt = time;
        if (Math.abs(f.score) > Math.abs(s.peakScore)) {
          s.peakScore = f.score;
          s.peakValue = f.value;
          s.peakBaseline = f.baseline;
        }
      }
    }
    incident.lastFlaggedAt = time;
    incident.firstMover = firstMover(
      [...incident.series.values()].map((s) => ({ key: s.key, startedAt: s.startedAt, score: s.peakScore })),
    ).key;
    const updated = opened === null && (incident.series.size !== before || incident.firstMover !== mover) ? incident : null;
    return { opened, updated, closed };
  }
}

/** The series whose run started first; on a tie the one furthest from its baseline, then by key. */
function firstMover<T extends { key: string; startedAt: number; score: number }>(series: readonly T[]): T {
  return [...series].sort(
    (a, b) => a.startedAt - b.startedAt || Math.abs(b.score) - Math.abs(a.score) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0),
  )[0] as T;
}

function incidentId(key: string, startedAt: number): string {
  return `ops-${createHash('sha256').update(`${key}\n${startedAt}`).digest('hex').slice(0, 24)}`;
}
