/** Rule sets: analysts, SREs and admins read them and their shadow reports; admins publish, shadow, promote and roll back (audited). */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import {
  listRuleSets,
  loadRuleSetText,
  promoteRuleSet,
  publishRuleSet,
  rollbackRuleSet,
  shadowReport,
  shadowRuleSet,
} from '../../models/rule-set-registry.ts';
import { InputError } from '../../platform/errors.ts';
import type { Pool } from '../../platform/mysql.ts';
import type { CandidateSettings } from '../../models/candidate.ts';
import { HttpProblem } from '../plugins/errors.ts';
import { checkFirst } from './promotion-check.ts';
import { problems } from '../schemas/common.ts';
import { OptionalReason, PromoteBody, Promoted, RolledBack, Shadowed } from '../schemas/models.ts';
import { Published, PublishBody, RuleSetList, RuleSetParams, RuleSetText, ShadowReportBody } from '../schemas/rules.ts';

/** A registry refusal: an unknown version → 404, a rule file that does not compile → 400, a wrong state → 409. */
const refusal =
  (status: 400 | 409, version?: string) =>
  (err: unknown): never => {
    if (err instanceof InputError)
      throw new HttpProblem(
        version !== undefined && err.message.startsWith(`no rule set ${version}`) ? 404 : status,
        err.message,
      );
    throw err;
  };

const rulesRoutes: FastifyPluginAsyncTypebox<{
  pool: Pool;
  featureNames: readonly string[];
  promotionCheck?: CandidateSettings;
}> = async (app, { pool, featureNames, promotionCheck }) => {
  const actor = (p: { name: string; keyId: string } | null) => (p ? `${p.name} (key ${p.keyId})` : 'unknown');

  app.get(
    '/rules',
    {
      config: { roles: ['analyst', 'sre', 'admin'] },
      schema: {
        tags: ['rules'],
        summary: 'Every published rule set with its state, author and reason, newest first',
        response: { 200: RuleSetList, ...problems() },
      },
    },
    async () =>
      (await listRuleSets(pool)).map((s) => ({
        version: s.version,
        name: s.name,
        state: s.state,
        rules: s.ruleCount,
        author: s.author,
        reason: s.reason,
        created_at: s.createdAt.toISOString(),
        state_changed_at: s.stateChangedAt.toISOString(),
        content_sha256: s.contentSha256,
      })),
  );

  app.get(
    '/rules/:version',
    {
      config: { roles: ['analyst', 'sre', 'admin'] },
      schema: {
        tags: ['rules'],
        summary: 'A published rule set, as it was published',
        params: RuleSetParams,
        response: { 200: RuleSetText, ...problems(404) },
      },
    },
    async (request) => loadRuleSetText(pool, request.params.version).catch(refusal(409, request.params.version)),
  );

  app.get(
    '/rules/:version/shadow-report',
    {
      config: { roles: ['analyst', 'sre', 'admin'] },
      schema: {
        tags: ['rules'],
        summary:
          'What a rule set decided in shadow so far beside the live rules: transitions and alerts per day (the shape of `txmon backtest`)',
        params: RuleSetParams,
        response: { 200: ShadowReportBody, ...problems(404) },
      },
    },
    async (request) => {
      const r = await shadowReport(pool, request.params.version).catch(refusal(409, request.params.version));
      return {
        version: r.version,
        state: r.state,
        transactions: r.transactions,
        changed: r.changed,
        transitions: r.transitions,
        alerts_per_day: r.alertsPerDay.map((d) => ({ day: d.day, live: d.before, shadow: d.after })),
      };
    },
  );

  app.post(
    '/rules',
    {
      // A rule file can be larger than the API's default body limit (64 KB).
      bodyLimit: 1_100_000,
      config: { roles: ['admin'] },
      schema: {
        tags: ['rules'],
        summary:
          'Publish a rule file: validated as the processors would, stored byte for byte as a candidate; the same text is the same version; audited',
        body: PublishBody,
        response: { 200: Published, 201: Published, ...problems(400) },
      },
    },
    async (request, reply) => {
      const r = await publishRuleSet(pool, request.body.text, featureNames, {
        actor: actor(request.principal),
        reason: request.body.reason,
        source: 'POST /api/v1/rules',
      }).catch(refusal(400));
      return reply.code(r.created ? 201 : 200).send(r);
    },
  );

  app.post(
    '/rules/:version/promote',
    {
      config: { roles: ['admin'] },
      schema: {
        tags: ['rules'],
        summary:
          'Make a rule set the one the processors decide with (within TXMON_RULES_RELOAD_MS), after a backtest with the active model (`check`, `strict`); audited',
        params: RuleSetParams,
        body: PromoteBody,
        response: { 200: Promoted, ...problems(404, 409) },
      },
    },
    async (request) => {
      const v = request.params.version;
      const check = await checkFirst(pool, promotionCheck, { rules: v }, request.body).catch(refusal(409, v));
      const r = await promoteRuleSet(pool, v, actor(request.principal), request.body?.reason, request.ip).catch(refusal(409, v));
      return { active: v, previous: r.previous, check };
    },
  );

  app.post(
    '/rules/:version/shadow',
    {
      config: { roles: ['admin'] },
      schema: {
        tags: ['rules'],
        summary:
          'Decide with a rule set beside the live rules without acting (its decisions counted for the shadow report); audited',
        params: RuleSetParams,
        body: OptionalReason,
        response: { 200: Shadowed, ...problems(404, 409) },
      },
    },
    async (request) => {
      const v = request.params.version;
      const r = await shadowRuleSet(pool, v, actor(request.principal), request.body?.reason, request.ip).catch(refusal(409, v));
      return { shadow: v, replaced: r.replaced };
    },
  );

  app.post(
    '/rules/rollback',
    {
      config: { roles: ['admin'] },
      schema: {
        tags: ['rules'],
        summary: 'Return to the rule set active before the current one; audited',
        body: OptionalReason,
        response: { 200: RolledBack, ...problems(409) },
      },
    },
    async (request) => rollbackRuleSet(pool, actor(request.principal), request.body?.reason, request.ip).catch(refusal(409)),
  );
};

export default rulesRoutes;
