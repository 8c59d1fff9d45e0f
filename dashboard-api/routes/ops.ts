/** ops-watch's alerts for SREs (issue 21): newest first, with their evidence and forecast. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Pool } from '../../platform/mysql.ts';
import { listOpsAlerts, opsAlertRecord } from '../../sinks/ops-alerts.sink.ts';
import { problems } from '../schemas/common.ts';
import { OpsAlertList, OpsAlertQuery } from '../schemas/ops.ts';

const iso = (ms: number) => new Date(ms).toISOString();

const opsRoutes: FastifyPluginAsyncTypebox<{ pool: Pool }> = async (app, { pool }) => {
  app.get(
    '/ops/alerts',
    {
      config: { roles: ['sre', 'admin'] },
      schema: {
        tags: ['operations'],
        summary:
          "ops-watch's alerts, newest first: incidents on txmon's own metrics (the series that moved first, each series' evidence) and forecast SLO breaches",
        querystring: OpsAlertQuery,
        response: { 200: OpsAlertList, ...problems() },
      },
    },
    async (request) => {
      const { status, limit = 100 } = request.query;
      const alerts = await listOpsAlerts(pool, { ...(status && { status }), limit });
      return {
        // The topic's record with its times as ISO 8601: one shape for both readers.
        items: alerts.map((alert) => {
          const r = opsAlertRecord(alert);
          const f = r.forecast;
          return {
            ...r,
            opened_at: iso(r.opened_at),
            updated_at: iso(r.updated_at),
            closed_at: r.closed_at === null ? null : iso(r.closed_at),
            evidence: r.evidence.map((e) => ({ ...e, started_at: iso(e.started_at) })),
            templates: topTemplates(r.evidence),
            forecast:
              f === null
                ? null
                : {
                    ...f,
                    expected_at: iso(f.expected_at),
                    earliest_at: iso(f.earliest_at),
                    latest_at: f.latest_at === null ? null : iso(f.latest_at),
                  },
          };
        }),
      };
    },
  );
};

/** The incident's log templates (evidence with a template), new ones first, then by |score|; at most ten. */
function topTemplates(evidence: ReturnType<typeof opsAlertRecord>['evidence']) {
  return evidence
    .flatMap((e) =>
      e.template === null
        ? []
        : [
            {
              template: e.template,
              series: e.series,
              new_template: e.new_template,
              lines_per_s: e.value,
              baseline: e.baseline,
              score: e.score,
            },
          ],
    )
    .sort((a, b) => Number(b.new_template) - Number(a.new_template) || Math.abs(b.score) - Math.abs(a.score))
    .slice(0, 10);
}

export default opsRoutes;
