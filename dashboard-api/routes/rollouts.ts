/** Staged rollouts: every role sees where they stand (share, each arm's decisions, the last guardrail check); admins start, grow, complete and roll them back (audited). */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import {
  armCounts,
  completeRollout,
  growRollout,
  listRollouts,
  rollBackRollout,
  rolloutHistory,
  startRollout,
  type Rollout,
} from '../../models/rollout.ts';
import { InputError } from '../../platform/errors.ts';
import type { Pool } from '../../platform/mysql.ts';
import { HttpProblem } from '../plugins/errors.ts';
import { problems } from '../schemas/common.ts';
import { OptionalReason } from '../schemas/models.ts';
import { GrowBody, RolloutItem, RolloutList, StartBody } from '../schemas/rollouts.ts';

/** A refused step: nothing running, a rollout running already, a share not larger → 409; an unknown version → 404. */
const refusal = (err: unknown): never => {
  if (err instanceof InputError) throw new HttpProblem(/^no (rule set|model) /.test(err.message) ? 404 : 409, err.message);
  throw err;
};

const rolloutRoutes: FastifyPluginAsyncTypebox<{ pool: Pool }> = async (app, { pool }) => {
  const by = (request: { principal: { name: string; keyId: string } | null; ip: string }, reason?: string) => ({
    actor: request.principal ? `${request.principal.name} (key ${request.principal.keyId})` : 'unknown',
    clientAddr: request.ip,
    ...(reason !== undefined && { reason }),
  });
  const item = async (r: Rollout) => ({
    id: r.id,
    kind: r.kind,
    version: r.version,
    control_version: r.controlVersion,
    share: r.shareBp / 10_000,
    state: r.state,
    started_at: r.startedAt.toISOString(),
    updated_at: r.updatedAt.toISOString(),
    arms: r.state === 'running' ? await armCounts(pool, r.id) : null,
    evidence: r.evidence,
    history: (await rolloutHistory(pool, r)).map((h) => ({ ...h, at: h.at.toISOString() })),
  });

  app.post(
    '/rollouts',
    {
      config: { roles: ['admin'] },
      schema: {
        tags: ['rules', 'models'],
        summary:
          'Start a staged rollout of a rule set or model at a share of accounts (the rest stay on what is active); audited',
        body: StartBody,
        response: { 200: RolloutItem, ...problems(404, 409) },
      },
    },
    async (request) => {
      const b = request.body;
      const shareBp = Math.round(b.share * 10_000);
      if (shareBp < 1) throw new HttpProblem(400, 'share must be at least 0.0001 (one bucket in 10,000)');
      return item(await startRollout(pool, b.kind, b.version, shareBp, by(request, b.reason)).catch(refusal));
    },
  );

  app.post(
    '/rollouts/grow',
    {
      config: { roles: ['admin'] },
      schema: {
        tags: ['rules', 'models'],
        summary: 'Grow the running rollout to a larger share of accounts; audited',
        body: GrowBody,
        response: { 200: RolloutItem, ...problems(409) },
      },
    },
    async (request) =>
      item(await growRollout(pool, Math.round(request.body.share * 10_000), by(request, request.body.reason)).catch(refusal)),
  );

  app.post(
    '/rollouts/complete',
    {
      config: { roles: ['admin'] },
      schema: {
        tags: ['rules', 'models'],
        summary: 'Complete the running rollout: its rule set or model is promoted for every account; audited',
        body: OptionalReason,
        response: { 200: RolloutItem, ...problems(409) },
      },
    },
    async (request) => item(await completeRollout(pool, by(request, request.body?.reason)).catch(refusal)),
  );

  app.post(
    '/rollouts/rollback',
    {
      config: { roles: ['admin'] },
      schema: {
        tags: ['rules', 'models'],
        summary: 'Roll the running rollout back: every account on what is active; audited',
        body: OptionalReason,
        response: { 200: RolloutItem, ...problems(409) },
      },
    },
    async (request) => {
      const r = await rollBackRollout(pool, by(request, request.body?.reason)).catch(refusal);
      if (r === null) throw new HttpProblem(409, 'no rollout is running');
      return item(r);
    },
  );

  app.get(
    '/rollouts',
    {
      config: { roles: ['analyst', 'sre', 'admin'] },
      schema: {
        tags: ['rules', 'models'],
        summary:
          'Staged rollouts, newest first: share of accounts, state, each arm’s decisions (the running one), the guardrails’ last evidence and the audit trail',
        response: { 200: RolloutList, ...problems() },
      },
    },
    async () => Promise.all((await listRollouts(pool, 20)).map(item)),
  );
};

export default rolloutRoutes;
