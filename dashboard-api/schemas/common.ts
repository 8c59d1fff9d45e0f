/** Schemas shared by every route: the problem shape of errors, pagination, ids. */
import { Type, type Static } from 'typebox';

/** RFC 9457 problem details: every error the API answers with. Never a stack trace or PII. */
export const Problem = Type.Object(
  {
    type: Type.String({ description: 'A URI naming the kind of problem (about:blank for plain HTTP statuses).' }),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String({ description: 'What went wrong, for a human.' }),
    instance: Type.Optional(Type.String({ description: 'The request path.' })),
  },
  { additionalProperties: false },
);
export type ProblemBody = Static<typeof Problem>;

/** The error responses of a route, for its schema (and the OpenAPI document). */
export function problems(...codes: Array<400 | 401 | 403 | 404 | 409 | 429 | 503>): Record<number, typeof Problem> {
  return Object.fromEntries([...new Set([400, 401, 403, 429, ...codes])].map((c) => [c, Problem]));
}

export const Cursor = Type.String({
  maxLength: 200,
  pattern: '^[A-Za-z0-9_-]+$',
  description: 'Opaque: the `next` of the previous page.',
});
export const Limit = Type.Integer({ minimum: 1, maximum: 500, default: 50 });
export const Id = Type.String({ minLength: 1, maxLength: 64, pattern: '^[\\x21-\\x7e]+$' });
export const IsoTime = Type.String({ format: 'date-time' });
