/** Rule-set schemas: the list, one rule set's text, publishing, the lifecycle's results and the shadow report. */
import { Type } from 'typebox';

/** `<declared version>@<12 hex digits>` (detection/rules.ts). */
export const RuleSetVersion = Type.String({ minLength: 14, maxLength: 128, pattern: '^[^/\\\\]+@[0-9a-f]{12}$' });
export const RuleSetParams = Type.Object({ version: RuleSetVersion }, { additionalProperties: false });

export const RuleSetItem = Type.Object({
  version: Type.String(),
  name: Type.String(),
  state: Type.String({ description: 'candidate, shadow, active or retired' }),
  rules: Type.Integer(),
  author: Type.String(),
  reason: Type.String(),
  created_at: Type.String({ format: 'date-time' }),
  state_changed_at: Type.String({ format: 'date-time' }),
  content_sha256: Type.String(),
});
export const RuleSetList = Type.Array(RuleSetItem);
export const RuleSetText = Type.Object({
  version: Type.String(),
  state: Type.String(),
  text: Type.String({ description: 'The rule file as published, byte for byte.' }),
});

export const PublishBody = Type.Object(
  {
    text: Type.String({ minLength: 2, maxLength: 1_000_000, description: 'The rule file (the format of rules/rules.json).' }),
    reason: Type.String({ minLength: 1, maxLength: 500, description: 'Why, for the audit log.' }),
  },
  { additionalProperties: false },
);
export const Published = Type.Object({
  version: Type.String(),
  created: Type.Boolean({ description: 'false: this text was published before, as `version`; nothing stored.' }),
});

const Counts = Type.Object({ ALLOW: Type.Integer(), REVIEW: Type.Integer(), BLOCK: Type.Integer() });
export const ShadowReportBody = Type.Object({
  version: Type.String(),
  state: Type.String(),
  transactions: Type.Integer({ description: 'Transactions decided while it was in shadow, each once.' }),
  changed: Type.Integer({ description: 'Of those, how many it decided otherwise than the live rules.' }),
  transitions: Type.Object(
    { ALLOW: Counts, REVIEW: Counts, BLOCK: Counts },
    { description: 'transitions[live decision][shadow decision]: the shape of `txmon backtest`.' },
  ),
  alerts_per_day: Type.Array(
    Type.Object({
      day: Type.String({ format: 'date' }),
      live: Type.Integer({ description: 'REVIEW and BLOCK decided live.' }),
      shadow: Type.Integer({ description: 'REVIEW and BLOCK the shadow rule set decided.' }),
    }),
  ),
});
