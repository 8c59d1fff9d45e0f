/** The account aggregates' schemas (GET /accounts/{accountId}/aggregates). */
import { Type } from 'typebox';
import { Id } from './common.ts';

export const AccountParams = Type.Object({ accountId: Id }, { additionalProperties: false });

export const Aggregates = Type.Object({
  account_id: Type.String(),
  base_currency: Type.String(),
  as_of_event_time: Type.String({
    format: 'date-time',
    description: 'The latest event time the windows have seen for the account.',
  }),
  windows: Type.Array(
    Type.Object({
      window: Type.String(),
      count: Type.Integer(),
      sum_base_minor: Type.Integer({ description: 'Sum in minor units of the base currency.' }),
      distinct_merchants: Type.Integer(),
      distinct_countries: Type.Integer(),
    }),
  ),
  amount: Type.Object({
    n: Type.Integer(),
    mean_base_minor: Type.Number(),
    std_base_minor: Type.Number(),
  }),
  activity: Type.Array(
    Type.Object({
      window: Type.String(),
      bucket_ms: Type.Integer({ description: 'The length of each bucket of this window.' }),
      buckets: Type.Array(
        Type.Object({
          start: Type.String({ format: 'date-time', description: 'Start of the bucket (event time).' }),
          count: Type.Integer(),
          sum_base_minor: Type.Integer({ description: 'Sum of the known base amounts, minor units.' }),
        }),
        { description: 'The live buckets that hold at least one event, oldest first.' },
      ),
    }),
    {
      description:
        'The account’s recent activity per window, bucket by bucket (the state the windows keep): the timeline of the last 24 hours at the largest window’s resolution.',
    },
  ),
});
