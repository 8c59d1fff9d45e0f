/**
 * An account's live windowed aggregates, read from the state Redis (the same windows the rules and
 * the model see): its contributions merged at its head (state/aggregates.ts).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { WindowSpec } from '../../domain/windows.ts';
import type { StateRedis } from '../../platform/redis-pipelines.ts';
import { readAggregates } from '../../state/aggregates.ts';
import { EntityStore } from '../../state/entity-store.ts';
import { readMarker } from '../../state/marker.ts';
import { HttpProblem } from '../plugins/errors.ts';
import { AccountParams, Aggregates } from '../schemas/accounts.ts';
import { problems } from '../schemas/common.ts';

const accountRoutes: FastifyPluginAsyncTypebox<{
  redis: StateRedis;
  /** The state's Redis key prefix (not `prefix`: fastify reads that as the routes' URL prefix). */
  keyPrefix: string;
  windows: readonly WindowSpec[];
  baseCurrency: string;
  /** The state TTL (TXMON_STATE_TTL_SECONDS), ms: the store takes it, though this route only reads. */
  stateTtlMs: number;
}> = async (app, opts) => {
  app.get(
    '/accounts/:accountId/aggregates',
    {
      // Not sre: an account's windows (amounts, merchants, countries) are customer data like its
      // alerts and transactions, which sre may not read either.
      config: { roles: ['analyst', 'admin'] },
      schema: {
        tags: ['accounts'],
        summary:
          'An account’s live windowed aggregates (count, sum, distinct merchants and countries per window; amount statistics) and its recent activity bucket by bucket',
        params: AccountParams,
        response: { 200: Aggregates, ...problems(404, 503) },
      },
    },
    async (request) => {
      const marker = await readMarker(opts.redis, opts.keyPrefix);
      if (marker.status !== 'intact' || marker.generation === null)
        throw new HttpProblem(
          503,
          `the windowed state is not available (${marker.status}); the processors rebuild it from MySQL`,
        );
      // The generation the marker names: a rebuild fills the next one beside the old, and the
      // marker moves to it only once it is complete.
      const store = new EntityStore(opts.redis, {
        prefix: opts.keyPrefix,
        stateTtlMs: opts.stateTtlMs,
        generation: marker.generation,
      });
      const [agg] = await readAggregates(store, opts.windows, [{ kind: 'account', id: request.params.accountId }]);
      if (!agg)
        throw new HttpProblem(
          404,
          `no live state for account ${request.params.accountId} (no transaction within the windows' TTL)`,
        );
      return {
        account_id: request.params.accountId,
        base_currency: opts.baseCurrency,
        as_of_event_time: new Date(agg.head).toISOString(),
        windows: opts.windows.map((w, i) => ({
          window: w.name,
          count: agg.windows[i]?.count ?? 0,
          sum_base_minor: agg.windows[i]?.sumMinor ?? 0,
          distinct_merchants: agg.windows[i]?.distinctMerchants ?? 0,
          distinct_countries: agg.windows[i]?.distinctCountries ?? 0,
        })),
        amount: { n: agg.amountN, mean_base_minor: agg.amountMean, std_base_minor: agg.amountStd },
        activity: opts.windows.map((w, i) => ({
          window: w.name,
          bucket_ms: w.bucketMs,
          buckets: (agg.activity[i] ?? []).map((b) => ({
            start: new Date(b.start).toISOString(),
            count: b.count,
            sum_base_minor: b.sumMinor,
          })),
        })),
      };
    },
  );
};

export default accountRoutes;
