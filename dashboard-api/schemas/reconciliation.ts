/** Reconciliation schemas: the summary, the exceptions' page and filters, resolve and accept. */
import { Type, type Static } from 'typebox';
import { EXCEPTION_STATUSES } from '../../reconciliation/match.ts';
import { Cursor, Limit } from './common.ts';

export const Day = Type.String({ format: 'date', description: 'Business date, YYYY-MM-DD.' });
export const Reference = Type.String({ minLength: 1, maxLength: 64, pattern: '^[\\x21-\\x7e]+$' });

export const SummaryLine = Type.Object({
  status: Type.String(),
  currency: Type.String(),
  groups: Type.Integer(),
  expected_minor: Type.String({ description: 'Exact sum in minor units (a decimal string: sums can exceed 2^53).' }),
  settled_minor: Type.String(),
});
export const SummaryQuery = Type.Object({ date: Type.Optional(Day) }, { additionalProperties: false });
export const Summary = Type.Object({ date: Type.Union([Day, Type.Null()]), lines: Type.Array(SummaryLine) });

export const ExceptionItem = Type.Object({
  reference: Type.String(),
  status: Type.String(),
  reason: Type.String(),
  currency: Type.String(),
  expected_minor: Type.Union([Type.String(), Type.Null()]),
  settled_minor: Type.String(),
  transactions: Type.Integer(),
  settlement_lines: Type.Integer(),
  revision: Type.Integer({ description: 'Send it with resolve or accept: refused if the group changed since.' }),
  business_date: Type.String(),
  deadline: Type.String({ format: 'date-time' }),
  resolution: Type.Union([Type.String(), Type.Null()]),
  resolved_by: Type.Union([Type.String(), Type.Null()]),
});
export type ExceptionItemT = Static<typeof ExceptionItem>;

export const ExceptionsQuery = Type.Object(
  {
    date: Type.Optional(Day),
    status: Type.Optional(Type.Union([...EXCEPTION_STATUSES].map((s) => Type.Literal(s)))),
    open: Type.Optional(Type.Boolean({ description: 'true: unresolved only; false: resolved or accepted only.' })),
    cursor: Type.Optional(Cursor),
    limit: Type.Optional(Limit),
  },
  { additionalProperties: false },
);
export type ExceptionsQueryT = Static<typeof ExceptionsQuery>;
export const ExceptionsPage = Type.Object({ items: Type.Array(ExceptionItem), next: Type.Union([Type.String(), Type.Null()]) });

export const ReferenceParams = Type.Object({ reference: Reference }, { additionalProperties: false });
export const ResolveBody = Type.Object(
  {
    note: Type.Optional(Type.String({ maxLength: 1_000 })),
    revision: Type.Optional(
      Type.Integer({
        minimum: 1,
        description: 'The revision you looked at: refused (409) if the group changed since.',
      }),
    ),
  },
  { additionalProperties: false },
);
export const ResolveResult = Type.Object({
  reference: Type.String(),
  status: Type.String(),
  revision: Type.Integer(),
  resolution: Type.String(),
});
