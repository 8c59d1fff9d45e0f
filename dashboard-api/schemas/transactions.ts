/** The transaction view's schema (GET /transactions/{id}). */
import { Type, type Static } from 'typebox';
import { Id } from './common.ts';

export const TransactionParams = Type.Object({ transactionId: Id }, { additionalProperties: false });

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);

export const TransactionView = Type.Object({
  transaction_id: Type.String(),
  type: Type.String(),
  account_id: Type.String(),
  merchant_id: Type.String(),
  mcc: Type.String(),
  merchant_country: Type.String(),
  amount_minor: Type.Integer(),
  currency: Type.String(),
  channel: Type.String(),
  reference: Type.String(),
  event_time: Type.String({ format: 'date-time' }),
  late: Type.Boolean(),
  decision: Type.Union([
    Type.Object({
      decision: Type.String(),
      risk_score: Type.Number(),
      model_version: Nullable(Type.String()),
      ruleset_version: Type.String(),
      alert_id: Nullable(Type.String()),
    }),
    Type.Null(),
  ]),
  alerts: Type.Array(Type.Object({ alert_id: Type.String(), status: Type.String(), decision: Type.String() })),
  reconciliation: Type.Union([
    Type.Object({ reference: Type.String(), status: Type.String(), reason: Type.String(), resolution: Nullable(Type.String()) }),
    Type.Null(),
  ]),
});

export type TransactionViewT = Static<typeof TransactionView>;
