/** Backtest schemas. */
import { Type } from 'typebox';

export const BacktestBody = Type.Object(
  {
    rules: Type.Optional(
      Type.String({
        minLength: 14,
        maxLength: 128,
        pattern: '^[^/\\\\]+@[0-9a-f]{12}$',
        description: 'A published rule-set version; default: the rules in force.',
      }),
    ),
    model: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 128,
        description: 'A model version, or "none" for rules alone; default: the active model.',
      }),
    ),
    days: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 90,
        description: 'The latest days of stored decisions; default TXMON_PROMOTION_CHECK_DAYS.',
      }),
    ),
  },
  { additionalProperties: false },
);

const Counts = Type.Object({ ALLOW: Type.Integer(), REVIEW: Type.Integer(), BLOCK: Type.Integer() });
const Quality = Type.Object({ precision: Type.Number(), recall: Type.Number(), pr_auc: Type.Number(), alerts: Type.Integer() });

export const BacktestResult = Type.Object({
  candidate: Type.Object({ ruleset_version: Type.String(), model_version: Type.Union([Type.String(), Type.Null()]) }),
  range: Type.Object({ from: Type.String({ format: 'date-time' }), to: Type.String({ format: 'date-time' }) }),
  transactions: Type.Integer({ description: 'Stored decisions decided again.' }),
  changed: Type.Integer({ description: 'Decided otherwise by the candidate.' }),
  risk_changed: Type.Integer({ description: 'Same decision, another risk score.' }),
  transitions: Type.Object(
    { ALLOW: Counts, REVIEW: Counts, BLOCK: Counts },
    { description: 'transitions[stored decision][candidate decision].' },
  ),
  labelled: Type.Union(
    [Type.Object({ rows: Type.Integer(), positives: Type.Integer(), before: Quality, after: Quality }), Type.Null()],
    { description: 'Precision and recall before and after, on the labelled transactions (null: none labelled).' },
  ),
  flagged_segments: Type.Array(
    Type.Object({
      dimension: Type.String(),
      value: Type.String(),
      transactions: Type.Integer(),
      rate_before: Type.Number(),
      rate_after: Type.Number(),
    }),
    { description: 'Segments whose alert rate moves by more than TXMON_FAIRNESS_FACTOR.' },
  ),
  changed_sample: Type.Array(
    Type.Object({
      transaction_id: Type.String(),
      account_id: Type.String(),
      event_time: Type.String({ format: 'date-time' }),
      from: Type.String(),
      to: Type.String(),
      risk_before: Type.Number(),
      risk_after: Type.Number(),
      rules: Type.Array(Type.String()),
    }),
    { description: 'The first 200 changed decisions (txmon backtest --changed-csv lists them all).' },
  ),
  unstored_fields: Type.Array(Type.String(), {
    description: 'Fields the rules read that MySQL does not store (read as missing).',
  }),
});
