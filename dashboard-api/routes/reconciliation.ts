/** Reconciliation for finance ops: summary by day, status and currency; exceptions; resolve and accept (audited). */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { RowDataPacket } from 'mysql2/promise';
import { LRUCache } from 'lru-cache';
import { Type } from 'typebox';
import type { Pool } from '../../platform/mysql.ts';
import { EXCEPTION_STATUSES } from '../../reconciliation/match.ts';
import { CURRENT_RESOLUTION_SQL, OPEN_SQL, reconReport } from '../../sinks/recon-report.ts';
import { NoSuchResultError, resolveException } from '../../sinks/recon-resolve.ts';
import { HttpProblem } from '../plugins/errors.ts';
import { decodeCursor, encodeCursor } from '../cursor.ts';
import { Cursor, Limit, problems } from '../schemas/common.ts';

type Row = RowDataPacket & Record<string, unknown>;
const Day = Type.String({ format: 'date', description: 'Business date, YYYY-MM-DD.' });
const EXCEPTIONS = [...EXCEPTION_STATUSES];
const Reference = Type.String({ minLength: 1, maxLength: 64, pattern: '^[\\x21-\\x7e]+$' });

const SummaryLine = Type.Object({
  status: Type.String(),
  currency: Type.String(),
  groups: Type.Integer(),
  expected_minor: Type.String({ description: 'Exact sum in minor units (a decimal string: sums can exceed 2^53).' }),
  settled_minor: Type.String(),
});
const ExceptionItem = Type.Object({
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

/** MariaDB stops an exceptions page past this: exceptions are rare among results, and a page without a date may scan many. */
const EXCEPTIONS_MAX_SECONDS = 5;
/** The summary (a scan of a day's results, or all of them) is computed at most this often per date, whoever asks. */
const SUMMARY_CACHE_MS = 10_000;

const reconRoutes: FastifyPluginAsyncTypebox<{ pool: Pool }> = async (app, { pool }) => {
  // One computation per date in flight and per period (lru-cache's fetch is single-flight); failures are not kept.
  const summaries = new LRUCache<string, Awaited<ReturnType<typeof reconReport>>>({
    max: 64,
    ttl: SUMMARY_CACHE_MS,
    fetchMethod: (date) => reconReport(pool, date === '' ? null : date),
  });
  app.get(
    '/reconciliation/summary',
    {
      config: { roles: ['analyst', 'sre', 'admin'] },
      schema: {
        tags: ['reconciliation'],
        summary: `Groups and amounts per status and currency, for a business date or all (computed at most every ${SUMMARY_CACHE_MS / 1000} s)`,
        querystring: Type.Object({ date: Type.Optional(Day) }, { additionalProperties: false }),
        response: { 200: Type.Object({ date: Type.Union([Day, Type.Null()]), lines: Type.Array(SummaryLine) }), ...problems() },
      },
    },
    async (request) => {
      const date = request.query.date ?? null;
      const lines = await summaries.fetch(date ?? '');
      if (!lines) throw new Error('reconciliation summary gave no result');
      return {
        date,
        lines: lines.map((l) => ({
          status: l.status,
          currency: l.currency,
          groups: l.groups,
          expected_minor: l.expectedMinor,
          settled_minor: l.settledMinor,
        })),
      };
    },
  );

  app.get(
    '/reconciliation/exceptions',
    {
      config: { roles: ['analyst', 'sre', 'admin'] },
      schema: {
        tags: ['reconciliation'],
        summary: 'Exceptions by reference, with filters and cursor pagination',
        querystring: Type.Object(
          {
            date: Type.Optional(Day),
            status: Type.Optional(Type.Union(EXCEPTIONS.map((s) => Type.Literal(s)))),
            open: Type.Optional(Type.Boolean({ description: 'true: unresolved only; false: resolved or accepted only.' })),
            cursor: Type.Optional(Cursor),
            limit: Type.Optional(Limit),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ items: Type.Array(ExceptionItem), next: Type.Union([Type.String(), Type.Null()]) }),
          ...problems(),
        },
      },
    },
    async (request) => {
      const q = request.query;
      const where = ['status IN (?)'];
      const args: unknown[] = [q.status ? [q.status] : EXCEPTIONS];
      const add = (clause: string, ...values: unknown[]) => {
        where.push(clause);
        args.push(...values);
      };
      if (q.date) add('business_date = ?', q.date);
      if (q.open !== undefined) where.push(q.open ? OPEN_SQL : `NOT ${OPEN_SQL}`);
      if (q.cursor) add('reference > ?', decodeCursor(q.cursor, ['string'])[0]);
      const limit = q.limit ?? 50;
      const [rows] = await pool.query<Row[]>(
        `SET STATEMENT max_statement_time = ${EXCEPTIONS_MAX_SECONDS} FOR
         SELECT reference, status, reason, currency, CAST(expected_minor AS CHAR) AS expected, CAST(settled_minor AS CHAR) AS settled,
                transactions, settlement_lines, DATE_FORMAT(business_date, '%Y-%m-%d') AS business_date, deadline, revision, ${CURRENT_RESOLUTION_SQL} AS resolution, resolved_by
           FROM recon_results WHERE ${where.join(' AND ')} ORDER BY reference LIMIT ?`,
        [...args, limit + 1],
      );
      const items = rows.slice(0, limit).map((r) => ({
        reference: String(r.reference),
        status: String(r.status),
        reason: String(r.reason),
        currency: String(r.currency),
        expected_minor: r.expected == null ? null : String(r.expected),
        settled_minor: String(r.settled),
        transactions: Number(r.transactions),
        settlement_lines: Number(r.settlement_lines),
        revision: Number(r.revision),
        business_date: String(r.business_date),
        deadline: (r.deadline as Date).toISOString(),
        resolution: r.resolution == null ? null : String(r.resolution),
        resolved_by: r.resolved_by == null ? null : String(r.resolved_by),
      }));
      return { items, next: rows.length > limit ? encodeCursor([String(rows[limit - 1]?.reference)]) : null };
    },
  );

  for (const action of ['resolve', 'accept'] as const)
    app.post(
      `/reconciliation/exceptions/:reference/${action}`,
      {
        config: { roles: ['analyst', 'admin'] },
        schema: {
          tags: ['reconciliation'],
          summary:
            action === 'resolve'
              ? 'Close an open exception as RESOLVED (fixed), recorded in the audit log'
              : 'Close an open exception as ACCEPTED (written off), recorded in the audit log',
          params: Type.Object({ reference: Reference }, { additionalProperties: false }),
          body: Type.Object(
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
          ),
          response: {
            200: Type.Object({
              reference: Type.String(),
              status: Type.String(),
              revision: Type.Integer(),
              resolution: Type.String(),
            }),
            ...problems(404, 409),
          },
        },
      },
      async (request) => {
        const p = request.principal;
        const r = await resolveException(
          pool,
          request.params.reference,
          action === 'resolve' ? 'RESOLVED' : 'ACCEPTED',
          p ? `${p.name} (key ${p.keyId})` : 'unknown',
          request.body?.note ?? null,
          request.body?.revision,
          request.ip,
        ).catch((err: unknown) => {
          throw err instanceof NoSuchResultError ? new HttpProblem(404, err.message) : err;
        });
        return { reference: r.reference, status: r.status, revision: r.revision, resolution: r.resolution };
      },
    );
};

export default reconRoutes;
