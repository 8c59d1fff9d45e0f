/** The probes' schemas: /healthz, /readyz, /readyz/detail, /metrics. */
import { Type, type Static } from 'typebox';

export const Check = Type.Object({
  name: Type.String(),
  ok: Type.Boolean(),
  detail: Type.String(),
  last_ok_seconds_ago: Type.Union([Type.Number(), Type.Null()], {
    description: 'Since the check last passed (null: not since the API started).',
  }),
});
export type CheckT = Static<typeof Check>;
export const Status = Type.Union([Type.Literal('ready'), Type.Literal('not-ready')]);
export const Readiness = Type.Object({ status: Status }, { additionalProperties: false });
export const ReadinessDetail = Type.Object({ status: Status, checks: Type.Array(Check) });
export const Alive = Type.Object({ status: Type.Literal('ok') });
export const MetricsText = Type.String({ description: 'Prometheus text format' });
