/**
 * ops-watch's alerts: each incident and each forecast SLO breach is one alert, and every change of
 * it (opened, a series joined, the first mover changed, closed) is a new revision, written to MySQL
 * and published on txmon.ops-alerts.v1. Pure: built from the engine's rounds.
 */
import { createHash } from 'node:crypto';
import type { Incident } from './incidents.ts';
import type { Prediction, WatchStep } from './watch.ts';

export interface OpsSeriesEvidence {
  readonly series: string;
  readonly startedAt: number;
  readonly value: number;
  readonly baseline: number;
  readonly score: number;
  /** For a log template's series (ops/log-watch.ts): the template's text, and whether it was new. */
  readonly template?: string;
  readonly newTemplate?: boolean;
}

/** What a series key stands for beyond its name: a log template's text, and whether it was first seen in the incident. */
export type DescribeSeries = (key: string, startedAt: number) => { template: string; newTemplate: boolean } | undefined;

/** A forecast SLO breach, as the engine predicted it. */
export type OpsForecast = Prediction;

export interface OpsAlert {
  readonly alertId: string;
  readonly revision: number;
  readonly kind: 'ANOMALY' | 'SLO_FORECAST';
  readonly status: 'OPEN' | 'CLOSED';
  readonly openedAt: number;
  readonly updatedAt: number;
  readonly closedAt: number | null;
  readonly firstMover: string;
  readonly summary: string;
  readonly evidence: readonly OpsSeriesEvidence[];
  readonly forecast: OpsForecast | null;
}

const round2 = (x: number) => Math.round(x * 100) / 100;

function evidenceOf(i: Incident, describe: DescribeSeries | undefined): OpsSeriesEvidence[] {
  return [...i.series.values()]
    .sort((a, b) => a.startedAt - b.startedAt || (a.key < b.key ? -1 : 1))
    .map((s) => ({
      series: s.key,
      startedAt: s.startedAt,
      value: s.peakValue,
      baseline: s.peakBaseline,
      score: round2(s.peakScore),
      ...describe?.(s.key, s.startedAt),
    }));
}

function incidentSummary(i: Incident): string {
  const others = i.series.size - 1;
  const mover = i.series.get(i.firstMover);
  const how = mover
    ? ` (${mover.peakValue} against a baseline of ${round2(mover.peakBaseline)}, score ${round2(mover.peakScore)})`
    : '';
  return `${i.firstMover} moved first${how}${others > 0 ? `; ${others} more series moved with it` : ''}`;
}

function forecastSummary(p: Prediction, time: number): string {
  return `${p.series} at ${round2(p.value)} is forecast to reach ${p.limit} in about ${Math.round((p.expectedAt - time) / 1_000)} s`;
}

/** The alerts open now, their revisions; turns each round into the alert revisions to write. */
export class OpsAlertBook {
  private readonly open = new Map<string, OpsAlert>();

  constructor(private readonly describe?: DescribeSeries) {}

  /** The open forecast alert of each series. */
  private readonly forecasts = new Map<string, string>();

  /** The revisions one round makes, in order. */
  changes(step: WatchStep): OpsAlert[] {
    const out: OpsAlert[] = [];
    const { opened, updated, closed } = step.incidents;
    for (const incident of [closed, opened, updated]) {
      if (incident === null) continue;
      const before = this.open.get(incident.id);
      const alert: OpsAlert = {
        alertId: incident.id,
        revision: (before?.revision ?? 0) + 1,
        kind: 'ANOMALY',
        status: incident.closedAt === null ? 'OPEN' : 'CLOSED',
        openedAt: incident.openedAt,
        updatedAt: step.time,
        closedAt: incident.closedAt,
        firstMover: incident.firstMover,
        summary: incidentSummary(incident),
        evidence: evidenceOf(incident, this.describe),
        forecast: null,
      };
      if (alert.status === 'OPEN') this.open.set(alert.alertId, alert);
      else this.open.delete(alert.alertId);
      out.push(alert);
    }
    for (const p of step.predictions) {
      const alertId = `slo-${createHash('sha256').update(`${p.series}\n${step.time}`).digest('hex').slice(0, 24)}`;
      const alert: OpsAlert = {
        alertId,
        revision: 1,
        kind: 'SLO_FORECAST',
        status: 'OPEN',
        openedAt: step.time,
        updatedAt: step.time,
        closedAt: null,
        firstMover: p.series,
        summary: forecastSummary(p, step.time),
        evidence: [],
        forecast: { ...p },
      };
      this.open.set(alertId, alert);
      this.forecasts.set(p.series, alertId);
      out.push(alert);
    }
    for (const series of step.cleared) {
      const id = this.forecasts.get(series);
      const before = id === undefined ? undefined : this.open.get(id);
      if (id === undefined || before === undefined) continue;
      this.forecasts.delete(series);
      this.open.delete(id);
      out.push({
        ...before,
        revision: before.revision + 1,
        status: 'CLOSED',
        updatedAt: step.time,
        closedAt: step.time,
        summary: `${before.summary}; no longer forecast`,
      });
    }
    return out;
  }
}
