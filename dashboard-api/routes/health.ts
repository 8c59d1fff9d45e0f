/**
 * Probes and metrics: /healthz (alive), /readyz (public: ready or not, nothing else), /readyz/detail
 * (sre, admin: each check, broker count, lag), /metrics. Public answers name no dependency: an
 * outsider learns nothing of the deployment from them.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Admin } from 'kafkajs';
import type { Registry } from 'prom-client';
import { DeadlineRead } from '../../platform/deadline-read.ts';
import { errorMessage } from '../../platform/errors.ts';
import { PROBE_DEADLINE_MS, PROBE_WAIT_MS } from '../../platform/probe-admin.ts';
import type { Pool } from '../../platform/mysql.ts';
import { pingMysql } from '../repositories/health.ts';
import { problems } from '../schemas/common.ts';
import { Alive, MetricsText, Readiness, ReadinessDetail, type CheckT } from '../schemas/health.ts';

/** A check's result is reused this long: /readyz calls cost the dependencies at most one check each per period. */
export const READY_FRESH_MS = 1_000;

/** Retry-After of a not-ready answer: the checks are read again each second. */
const READY_RETRY_AFTER_SECONDS = 1;

export interface Probe {
  name: string;
  check: () => Promise<string>;
}

/** A check's own verdict, safe to show the roles that see the detail (no host names, users or driver messages). */
export class ProbeFailure extends Error {}

type Verdict = { ok: boolean; detail: string };

/**
 * A probe behind a deadline, single-flight (concurrent /readyz calls share one check) and reused
 * for `freshMs`: a flood of /readyz calls makes at most one call per dependency per period, and a
 * caller waits at most `waitMs` (then the last verdict stands while the check goes on). A failed
 * check, or one pending past `deadlineMs`, is a failure (the probe goes red); the driver's message
 * (hosts, users) goes to the log, never to a response.
 */
export function deadlineProbe(
  p: Probe,
  deadlineMs: number,
  freshMs: number,
  log: () => { warn: (o: object, msg: string) => void },
  waitMs = Math.min(PROBE_WAIT_MS, deadlineMs),
) {
  const reading = new DeadlineRead<Verdict>(
    () =>
      p.check().then(
        (detail) => ({ ok: true, detail }),
        (err: unknown) => {
          if (err instanceof ProbeFailure) return { ok: false, detail: err.message };
          throw err;
        },
      ),
    {
      deadlineMs,
      waitMs,
      freshMs,
      onOutcome: (outcome, err) => {
        if (outcome !== 'ok')
          log().warn(
            { dependency: p.name, outcome, err: err === undefined ? undefined : errorMessage(err) },
            'readiness check failed',
          );
      },
    },
  );
  let lastOk: number | null = null;
  return async (): Promise<CheckT> => {
    const r = await reading.get();
    const now = Date.now();
    const passed = r.failure === null && r.value?.ok === true;
    if (passed && r.ageMs !== null) lastOk = Math.max(lastOk ?? 0, now - r.ageMs);
    const detail =
      r.failure === 'timeout'
        ? `no answer within ${deadlineMs} ms`
        : r.failure === 'error'
          ? 'not answering (the API log has the error)'
          : (r.value?.detail ?? 'not checked yet');
    return { name: p.name, ok: passed, detail, last_ok_seconds_ago: lastOk === null ? null : Math.max(0, now - lastOk) / 1000 };
  };
}

/** The standard probes of the API's dependencies. */
export function dependencyProbes(deps: {
  pool: Pool;
  redisPing?: () => Promise<string>;
  admin?: Admin;
  lag?: { read: () => Promise<number>; max: number };
}): Probe[] {
  const probes: Probe[] = [
    {
      name: 'mysql',
      check: async () => {
        await pingMysql(deps.pool);
        return 'reachable';
      },
    },
  ];
  if (deps.redisPing) {
    const ping = deps.redisPing;
    probes.push({ name: 'redis', check: async () => `answered ${await ping()}` });
  }
  if (deps.admin) {
    const admin = deps.admin;
    probes.push({
      name: 'kafka',
      check: async () => `${(await admin.describeCluster()).brokers.length} broker(s)`,
    });
  }
  if (deps.lag) {
    const { read, max } = deps.lag;
    probes.push({
      name: 'consumer-lag',
      check: async () => {
        const lag = await read();
        if (lag > max) throw new ProbeFailure(`ingest lag ${lag} records is above ${max} (TXMON_API_READY_MAX_LAG)`);
        return `ingest lag ${lag} records`;
      },
    });
  }
  return probes;
}

const healthRoutes: FastifyPluginAsyncTypebox<{ probes: Probe[]; registry: Registry; timeoutMs: number }> = async (app, opts) => {
  // Readiness: each check at most every READY_FRESH_MS; a check pending past the deadline (≤ 2 s)
  // fails, and no caller waits more than PROBE_WAIT_MS (the last verdict stands meanwhile).
  const deadlineMs = Math.min(opts.timeoutMs, PROBE_DEADLINE_MS);
  const checks = opts.probes.map((p) => deadlineProbe(p, deadlineMs, READY_FRESH_MS, () => app.log));
  const readiness = async () => {
    const results = await Promise.all(checks.map((c) => c()));
    const ok = results.every((c) => c.ok);
    return { ok, status: ok ? ('ready' as const) : ('not-ready' as const), checks: results };
  };

  app.get(
    '/healthz',
    {
      config: { roles: 'public' },
      schema: {
        tags: ['operations'],
        summary: 'The process is alive',
        response: { 200: Alive },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      config: { roles: 'public' },
      schema: {
        tags: ['operations'],
        summary:
          'Ready: MySQL, Redis and the broker answer, and the ingest lag is within bound (503 otherwise). Status only: which check failed is at /readyz/detail',
        response: { 200: Readiness, 503: Readiness },
      },
    },
    async (_request, reply) => {
      const r = await readiness();
      if (!r.ok) reply.header('retry-after', READY_RETRY_AFTER_SECONDS);
      return reply.code(r.ok ? 200 : 503).send({ status: r.status });
    },
  );

  app.get(
    '/readyz/detail',
    {
      config: { roles: ['sre', 'admin'] },
      schema: {
        tags: ['operations'],
        summary: 'Readiness with each check: MySQL, Redis, the broker (broker count), the ingest lag; 503 when one fails',
        response: { 200: ReadinessDetail, 503: ReadinessDetail, ...problems() },
      },
    },
    async (_request, reply) => {
      const r = await readiness();
      if (!r.ok) reply.header('retry-after', READY_RETRY_AFTER_SECONDS);
      return reply.code(r.ok ? 200 : 503).send({ status: r.status, checks: r.checks });
    },
  );

  app.get(
    '/metrics',
    {
      config: { roles: ['sre', 'admin'] },
      schema: {
        tags: ['operations'],
        summary: 'Prometheus metrics of the API and a view of pipeline health',
        response: { 200: MetricsText, ...problems() },
      },
    },
    async (_request, reply) => reply.type(opts.registry.contentType).send(await opts.registry.metrics()),
  );
};

export default healthRoutes;
