/**
 * `POST /backtests` (admin): a rule set or model decided again over the latest stored decisions, as
 * `txmon backtest` and a promotion's check do (models/backtest.ts), answered in one response for the
 * console. Synchronous and bounded by `days` (TXMON_PROMOTION_CHECK_DAYS by default): an admin
 * action, like a promotion's check.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { ChangedDecision } from '../../detection/backtest.ts';
import { runBacktest } from '../../models/backtest.ts';
import { candidateModel, candidateRules, fairnessOf, type CandidateSettings } from '../../models/candidate.ts';
import { storedRange } from '../../models/history.ts';
import { InputError } from '../../platform/errors.ts';
import type { Pool } from '../../platform/mysql.ts';
import { HttpProblem } from '../plugins/errors.ts';
import { BacktestBody, BacktestResult } from '../schemas/backtests.ts';
import { problems } from '../schemas/common.ts';

const CHANGED_SAMPLE = 200;

const backtestRoutes: FastifyPluginAsyncTypebox<{ pool: Pool; settings: CandidateSettings }> = async (
  app,
  { pool, settings },
) => {
  app.post(
    '/backtests',
    {
      config: { roles: ['admin'] },
      schema: {
        tags: ['rules', 'models'],
        summary:
          'Backtest a rule set or model over the latest stored decisions (days, default TXMON_PROMOTION_CHECK_DAYS): the transition table, changed transactions, precision and recall before and after, flagged segments',
        body: BacktestBody,
        response: { 200: BacktestResult, ...problems(404, 409) },
      },
    },
    async (request) => {
      const b = request.body;
      const stored = await storedRange(pool);
      if (stored === null) throw new HttpProblem(409, 'no stored decisions to backtest against: run the ingest first');
      const days = b.days ?? settings.detection.promotionCheckDays;
      const range = { from: new Date(Math.max(stored.from.getTime(), stored.to.getTime() - days * 86_400_000)), to: stored.to };
      const candidate = await Promise.all([candidateRules(pool, settings, b.rules), candidateModel(pool, b.model, undefined)])
        .then(([rules, model]) => ({ rules: rules.set, model, policy: { blockScore: settings.detection.blockScore } }))
        .catch((err: unknown) => {
          if (err instanceof InputError)
            throw new HttpProblem(/^no (rule set|model) |no such|unknown|not found/i.test(err.message) ? 404 : 409, err.message);
          throw err;
        });
      const changed: ChangedDecision[] = [];
      const fairness = fairnessOf(settings);
      const r = await runBacktest(pool, candidate, range, {
        say: () => {},
        fairness,
        onChanged: (c) => {
          if (changed.length < CHANGED_SAMPLE) changed.push(c);
        },
      });
      const quality = (q: { precision: number; recall: number; prAuc: number; alerts: number }) => ({
        precision: q.precision,
        recall: q.recall,
        pr_auc: q.prAuc,
        alerts: q.alerts,
      });
      return {
        candidate: { ruleset_version: r.candidate.rulesetVersion, model_version: r.candidate.modelVersion },
        range: r.range,
        transactions: r.transactions,
        changed: r.changed,
        risk_changed: r.riskChanged,
        transitions: r.transitions,
        labelled: r.labelled && {
          rows: r.labelled.rows,
          positives: r.labelled.positives,
          before: quality(r.labelled.before),
          after: quality(r.labelled.after),
        },
        flagged_segments: r.segments
          .filter((s) => s.flagged)
          .map((s) => ({
            dimension: s.dimension,
            value: s.value,
            transactions: s.transactions,
            rate_before: s.rateBefore,
            rate_after: s.rateAfter,
          })),
        changed_sample: changed.map((c) => ({
          transaction_id: c.transactionId,
          account_id: c.accountId,
          event_time: new Date(c.eventTime).toISOString(),
          from: c.from,
          to: c.to,
          risk_before: c.riskBefore,
          risk_after: c.riskAfter,
          rules: [...c.rules],
        })),
        unstored_fields: r.unstoredFields,
      };
    },
  );
};

export default backtestRoutes;
