/** Reconciliation for finance ops: summary by day, status and currency; exceptions; resolve and accept (audited). */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { LRUCache } from 'lru-cache';
import type { Pool } from '../../platform/mysql.ts';
import { reconReport } from '../../sinks/recon-report.ts';
import { NoSuchResultError, resolveException } from '../../sinks/recon-resolve.ts';
import { HttpProblem } from '../plugins/errors.ts';
import { exceptionsPage } from '../repositories/reconciliation.ts';
import { problems } from '../schemas/common.ts';
import {
  ExceptionsPage,
  ExceptionsQuery,
  ReferenceParams,
  ResolveBody,
  ResolveResult,
  Summary,
  SummaryQuery,
} from '../schemas/reconciliation.ts';

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
        querystring: SummaryQuery,
        response: { 200: Summary, ...problems() },
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
        querystring: ExceptionsQuery,
        response: { 200: ExceptionsPage, ...problems() },
      },
    },
    async (request) => exceptionsPage(pool, request.query),
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
          params: ReferenceParams,
          body: ResolveBody,
          response: { 200: ResolveResult, ...problems(404, 409) },
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
