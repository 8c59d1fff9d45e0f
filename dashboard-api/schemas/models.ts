/** Model schemas: the list, drift, and the lifecycle's params, bodies and results. */
import { Type } from 'typebox';

export const Version = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.:-]+$' });
export const VersionParams = Type.Object({ version: Version }, { additionalProperties: false });
export const Reason = Type.Object({ reason: Type.Optional(Type.String({ maxLength: 500 })) }, { additionalProperties: false });
/** A lifecycle action's body: optional, and then only a reason. */
export const OptionalReason = Type.Optional(Reason);
export const ModelItem = Type.Object({
  version: Type.String(),
  state: Type.String(),
  created_at: Type.String({ format: 'date-time' }),
  state_changed_at: Type.String({ format: 'date-time' }),
  trained_from: Type.String({ format: 'date-time' }),
  trained_to: Type.String({ format: 'date-time' }),
  training_rows: Type.Integer(),
  features: Type.Integer(),
  threshold: Type.Number(),
  params: Type.Unknown(),
  metrics: Type.Unknown({ description: 'ROC AUC, PR AUC, precision and recall at the threshold, when labels existed.' }),
  checksum: Type.String(),
});
export const ModelList = Type.Array(ModelItem);

export const DriftQuery = Type.Object(
  { sample: Type.Optional(Type.Integer({ minimum: 100, maximum: 20_000, default: 5_000 })) },
  { additionalProperties: false },
);
export const Drift = Type.Object({
  model_version: Type.String(),
  sample: Type.Integer({ description: 'Recent transactions scored by the active model that the PSI is computed over.' }),
  score_psi: Type.Number(),
  drift_alert: Type.Boolean({ description: 'score PSI above TXMON_DRIFT_PSI_ALERT' }),
  features: Type.Array(Type.Object({ feature: Type.String(), psi: Type.Number() }), { description: 'Largest PSI first.' }),
});

export const DriftHistoryQuery = Type.Object(
  {
    sample: Type.Optional(Type.Integer({ minimum: 100, maximum: 20_000, default: 5_000 })),
    bucket: Type.Optional(Type.Union([Type.Literal('hour'), Type.Literal('day')], { default: 'hour' })),
  },
  { additionalProperties: false },
);
export const DriftHistory = Type.Object({
  model_version: Type.String(),
  sample: Type.Integer({ description: 'Recent decisions of the active model the buckets are made of.' }),
  bucket: Type.String(),
  psi_alert: Type.Number({ description: 'TXMON_DRIFT_PSI_ALERT: a score PSI above it is drift.' }),
  buckets: Type.Array(
    Type.Object({
      start: Type.String({ format: 'date-time', description: 'Event time at which the bucket starts.' }),
      decisions: Type.Integer(),
      score_psi: Type.Number(),
      features: Type.Array(Type.Object({ feature: Type.String(), psi: Type.Number() }), { description: 'The ten largest PSIs.' }),
    }),
  ),
});

/** A promotion's body: a reason, and the check run first (the API's TXMON_PROMOTION_CHECK_DAYS backtest). */
export const PromoteBody = Type.Optional(
  Type.Object(
    {
      reason: Type.Optional(Type.String({ maxLength: 500 })),
      check: Type.Optional(
        Type.Boolean({ description: 'Backtest first (default true): the changed count and flagged segments are returned.' }),
      ),
      strict: Type.Optional(
        Type.Boolean({ description: 'Refuse (409) when a segment’s alert rate moves by more than TXMON_FAIRNESS_FACTOR.' }),
      ),
    },
    { additionalProperties: false },
  ),
);
export const Promoted = Type.Object({
  active: Type.String(),
  previous: Type.Union([Type.String(), Type.Null()]),
  check: Type.Optional(
    Type.Union([Type.Object({ summary: Type.String(), flagged: Type.Array(Type.String()) }), Type.Null()], {
      description: 'What the backtest before the promotion found; null when it was not run.',
    }),
  ),
});
export const Shadowed = Type.Object({ shadow: Type.String(), replaced: Type.Union([Type.String(), Type.Null()]) });
export const RolledBack = Type.Object({ from: Type.String(), to: Type.String() });

export const ModelCardBody = Type.Object(
  {
    format: Type.Integer(),
    version: Type.String(),
    training: Type.Unknown({ description: 'from, to, rows, labelled, fraud' }),
    features: Type.Array(Type.String()),
    params: Type.Unknown(),
    threshold: Type.Number(),
    evaluation: Type.Unknown({
      description: 'ROC AUC, PR AUC, precision and recall at the threshold on the window’s labels; null without both classes',
    }),
    calibration: Type.Array(Type.Unknown(), {
      description: 'Training-score deciles: score range, rows, share alerting, labelled, fraud rate.',
    }),
    segments: Type.Array(Type.Unknown(), {
      description: 'The model alone: alert rate and precision by channel, merchant country, account age band.',
    }),
    sparseFeatures: Type.Array(Type.Unknown()),
    limits: Type.Array(Type.String()),
  },
  { additionalProperties: true },
);
