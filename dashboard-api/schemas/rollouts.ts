/** Rollout schemas. */
import { Type } from 'typebox';

const Arm = Type.Object({ decisions: Type.Integer(), alerts: Type.Integer(), reviews: Type.Integer() });
export const RolloutItem = Type.Object({
  id: Type.Integer(),
  kind: Type.String({ description: 'rules or model' }),
  version: Type.String(),
  control_version: Type.Union([Type.String(), Type.Null()], { description: 'What decides for the other accounts.' }),
  share: Type.Number({ description: 'Share of accounts the candidate decides for, 0–1.' }),
  state: Type.String({ description: 'running, completed or rolled_back' }),
  started_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
  arms: Type.Union([Type.Object({ canary: Arm, control: Arm }), Type.Null()], {
    description: 'Each arm’s decisions so far (the running rollout).',
  }),
  evidence: Type.Unknown({
    description: 'The last guardrail check: alert rates, review queue, score PSI, limits, what was crossed.',
  }),
  history: Type.Array(
    Type.Object({
      at: Type.String({ format: 'date-time' }),
      actor: Type.String(),
      action: Type.String({ description: 'rollout.start, rollout.grow, rollout.complete or rollout.rollback' }),
      detail: Type.Unknown({ description: 'Shares, reason, and for a rollback the guardrail evidence.' }),
    }),
    { description: 'The rollout’s audit trail, oldest first: who started, grew, completed or rolled it back, and why.' },
  ),
});
export const RolloutList = Type.Array(RolloutItem);

const Share = Type.Number({ exclusiveMinimum: 0, maximum: 1, description: 'Share of accounts, 0–1 (0.1: 10 %).' });
const Why = Type.Optional(Type.String({ maxLength: 500 }));
export const StartBody = Type.Object(
  {
    kind: Type.Union([Type.Literal('rules'), Type.Literal('model')]),
    version: Type.String({ minLength: 1, maxLength: 128 }),
    share: Share,
    reason: Why,
  },
  { additionalProperties: false },
);
export const GrowBody = Type.Object({ share: Share, reason: Why }, { additionalProperties: false });
