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
});
