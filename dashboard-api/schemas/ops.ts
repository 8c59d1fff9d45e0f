/** ops-watch's alerts (issue 21). */
import { Type } from 'typebox';

const Time = Type.String({ format: 'date-time' });
export const OpsAlertItem = Type.Object({
  alert_id: Type.String(),
  revision: Type.Integer({ description: 'The latest revision (each is also a record on txmon.ops-alerts.v1).' }),
  kind: Type.String({ description: 'ANOMALY (series beyond their baselines) or SLO_FORECAST (a breach forecast)' }),
  status: Type.String({ description: 'OPEN or CLOSED' }),
  opened_at: Time,
  updated_at: Time,
  closed_at: Type.Union([Time, Type.Null()]),
  first_mover: Type.String({ description: 'The series that moved first (target:series), or the series forecast.' }),
  summary: Type.String(),
  evidence: Type.Array(
    Type.Object({
      series: Type.String(),
      started_at: Time,
      value: Type.Number({ description: 'Its value at its peak score.' }),
      baseline: Type.Number({ description: 'Its baseline (median of the window) then.' }),
      score: Type.Number({ description: 'Its peak robust z-score (0 for a log template flagged only as new).' }),
      template: Type.Union([Type.String(), Type.Null()], {
        description: "A log template's series (ops-watch's TXMON_OPS_LOG_FILES): the template's text; null for a metric's.",
      }),
      new_template: Type.Boolean({
        description: 'The template was first seen in this incident (its run began when it first appeared).',
      }),
    }),
    { description: 'Each series of the incident, the first mover first.' },
  ),
  templates: Type.Array(
    Type.Object({
      template: Type.String(),
      series: Type.String(),
      new_template: Type.Boolean(),
      lines_per_s: Type.Number({ description: 'Its rate at its peak score (lines per second).' }),
      baseline: Type.Number(),
      score: Type.Number(),
    }),
    {
      description:
        "The incident's log templates, top first: new templates, then by peak score (issue 22); empty when ops-watch reads no logs.",
    },
  ),
  forecast: Type.Union([
    Type.Object({
      series: Type.String(),
      limit: Type.Number({ description: "The SLO's limit, in the series' unit." }),
      value: Type.Number(),
      expected_at: Time,
      earliest_at: Time,
      latest_at: Type.Union([Time, Type.Null()], { description: 'Null: beyond the horizon.' }),
    }),
    Type.Null(),
  ]),
});
export const OpsAlertList = Type.Object({ items: Type.Array(OpsAlertItem) });
export const OpsAlertQuery = Type.Object({
  status: Type.Optional(Type.Union([Type.Literal('OPEN'), Type.Literal('CLOSED')])),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
});
