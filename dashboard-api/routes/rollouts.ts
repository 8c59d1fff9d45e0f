/** Staged rollouts for every role: where the running one stands (share, each arm's decisions, the last guardrail check) and the recent ones. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { armCounts, listRollouts } from '../../models/rollout.ts';
import type { Pool } from '../../platform/mysql.ts';
import { problems } from '../schemas/common.ts';
import { RolloutList } from '../schemas/rollouts.ts';

const rolloutRoutes: FastifyPluginAsyncTypebox<{ pool: Pool }> = async (app, { pool }) => {
  app.get(
    '/rollouts',
    {
      config: { roles: ['analyst', 'sre', 'admin'] },
      schema: {
        tags: ['rules', 'models'],
        summary:
          'Staged rollouts, newest first: share of accounts, state, each arm’s decisions (the running one) and the guardrails’ last evidence',
        response: { 200: RolloutList, ...problems() },
      },
    },
    async () => {
      const recent = await listRollouts(pool, 20);
      return Promise.all(
        recent.map(async (r) => ({
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
        })),
      );
    },
  );
};

export default rolloutRoutes;
