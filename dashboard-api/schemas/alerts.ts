/** Alert schemas: list filters, the list item, the detail, triage bodies. */
import { Type, type Static } from 'typebox';
import { Cursor, Id, IsoTime, Limit } from './common.ts';

export const ALERT_STATUSES = ['OPEN', 'IN_REVIEW', 'CONFIRMED_FRAUD', 'FALSE_POSITIVE', 'CLOSED'] as const;

export const AlertListQuery = Type.Object(
  {
    status: Type.Optional(Type.Union(ALERT_STATUSES.map((s) => Type.Literal(s)))),
    decision: Type.Optional(Type.Union([Type.Literal('REVIEW'), Type.Literal('BLOCK')])),
    severity: Type.Optional(
      Type.Union(
        ['low', 'medium', 'high', 'critical'].map((s) => Type.Literal(s)),
        {
          description: 'Alerts with a rule hit of this severity.',
        },
      ),
    ),
    account_id: Type.Optional(Id),
    rule_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.:-]+$' })),
    model_version: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: '^[\\x21-\\x7e]+$' })),
    from: Type.Optional(Type.String({ format: 'date-time', description: 'Event time, inclusive.' })),
    to: Type.Optional(Type.String({ format: 'date-time', description: 'Event time, exclusive.' })),
    cursor: Type.Optional(Cursor),
    limit: Type.Optional(Limit),
  },
  { additionalProperties: false },
);
export type AlertListQueryT = Static<typeof AlertListQuery>;

export const AlertSummary = Type.Object({
  alert_id: Type.String(),
  transaction_id: Type.String(),
  account_id: Type.String(),
  decision: Type.String(),
  risk_score: Type.Number(),
  status: Type.String(),
  summary: Type.String(),
  model_version: Type.Union([Type.String(), Type.Null()]),
  ruleset_version: Type.String(),
  event_time: IsoTime,
  created_at: IsoTime,
});
export type AlertSummaryT = Static<typeof AlertSummary>;

export const AlertPage = Type.Object({
  items: Type.Array(AlertSummary),
  next: Type.Union([Type.String(), Type.Null()], { description: 'Cursor of the next page; null on the last.' }),
});

const RuleHit = Type.Object({
  ruleId: Type.String(),
  ruleVersion: Type.String(),
  severity: Type.String(),
  action: Type.String(),
  detail: Type.String(),
  snoozed: Type.Boolean(),
});

export const AuditEntry = Type.Object({
  at: IsoTime,
  actor: Type.String(),
  action: Type.String(),
  detail: Type.Unknown(),
});

export const AlertDetail = Type.Object({
  ...AlertSummary.properties,
  decision_detail: Type.Object({
    risk_score: Type.Number(),
    model_version: Type.Union([Type.String(), Type.Null()]),
    model_score: Type.Union([Type.Number(), Type.Null()]),
    shadow_model_version: Type.Union([Type.String(), Type.Null()]),
    shadow_score: Type.Union([Type.Number(), Type.Null()]),
    ruleset_version: Type.String(),
    rule_hits: Type.Array(RuleHit),
    explanation: Type.Unknown(),
    decided_at: IsoTime,
  }),
  transaction: Type.Object({
    type: Type.String(),
    amount_minor: Type.Integer(),
    currency: Type.String(),
    merchant_id: Type.String(),
    mcc: Type.String(),
    merchant_country: Type.String(),
    channel: Type.String(),
    event_time: IsoTime,
  }),
  feature_snapshot: Type.Unknown({ description: 'The features the decision was made from (static enrichment + windows).' }),
  history: Type.Array(AuditEntry, { description: 'Triage actions on this alert, oldest first.' }),
});

export const AlertIdParams = Type.Object(
  { alertId: Type.String({ pattern: '^[0-9a-f]{32}$' }) },
  { additionalProperties: false },
);

export const ResolveBody = Type.Object(
  {
    label: Type.Union([Type.Literal('fraud'), Type.Literal('legitimate')]),
    note: Type.Optional(Type.String({ maxLength: 2_000 })),
  },
  { additionalProperties: false },
);
export const NoteBody = Type.Object({ note: Type.String({ minLength: 1, maxLength: 2_000 }) }, { additionalProperties: false });

export const TriageResult = Type.Object({ alert_id: Type.String(), status: Type.String() });

/** The fastest a stream may poll MySQL: 100 streams cost at most 100 queries a second (issue 16). */
export const STREAM_MIN_POLL_MS = 1_000;

export const AlertStreamQuery = Type.Object(
  {
    poll_ms: Type.Optional(
      Type.Integer({
        minimum: STREAM_MIN_POLL_MS,
        maximum: 10_000,
        default: 1_000,
        description: 'How often to look for new alerts.',
      }),
    ),
  },
  { additionalProperties: false },
);

export const EventStream = Type.String({ description: 'text/event-stream' });
