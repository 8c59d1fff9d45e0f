/** Probes and metrics: /healthz (alive), /readyz (MySQL, Redis, broker reachable; lag within bound), /metrics. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Admin } from 'kafkajs';
import { Type } from 'typebox';
import type { Registry } from 'prom-client';
import { errorMessage } from '../../platform/errors.ts';
import type { Pool } from '../../platform/mysql.ts';
import { problems } from '../schemas/common.ts';

export interface Probe {
  name: string;
  check: () => Promise<string>;
}

const Check = Type.Object({ name: Type.String(), ok: Type.Boolean(), detail: Type.String() });
const Readiness = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('not-ready')]),
  checks: Type.Array(Check),
});

/** A check's own verdict, safe to show anyone (no host names, users or driver messages). */
export class ProbeFailure extends Error {}

/**
 * Runs a check with a deadline; a timeout is a failure. /readyz is public: a failure says only that
 * the dependency did not answer; the driver's message (hosts, users) goes to the log.
 */
async function timed(
  p: Probe,
  ms: number,
  log: { warn: (o: object, msg: string) => void },
): Promise<{ name: string; ok: boolean; detail: string }> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const detail = await Promise.race([
      p.check(),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new ProbeFailure(`no answer within ${ms} ms`)), ms))),
    ]);
    return { name: p.name, ok: true, detail };
  } catch (err) {
    if (err instanceof ProbeFailure) return { name: p.name, ok: false, detail: err.message };
    log.warn({ dependency: p.name, err: errorMessage(err) }, 'readiness check failed');
    return { name: p.name, ok: false, detail: 'not answering (the API log has the error)' };
  } finally {
    clearTimeout(timer);
  }
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
        await deps.pool.query('SELECT 1');
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
  app.get(
    '/healthz',
    {
      config: { roles: 'public' },
      schema: {
        tags: ['operations'],
        summary: 'The process is alive',
        response: { 200: Type.Object({ status: Type.Literal('ok') }) },
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
        summary: 'MySQL, Redis and the broker answer, and the ingest lag is within bound (503 otherwise)',
        response: { 200: Readiness, 503: Readiness },
      },
    },
    async (request, reply) => {
      const checks = await Promise.all(opts.probes.map((p) => timed(p, opts.timeoutMs, request.log)));
      const ok = checks.every((c) => c.ok);
      return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'not-ready', checks });
    },
  );

  app.get(
    '/metrics',
    {
      config: { roles: ['sre', 'admin'] },
      schema: {
        tags: ['operations'],
        summary: 'Prometheus metrics of the API and a view of pipeline health',
        response: { 200: Type.String({ description: 'Prometheus text format' }), ...problems() },
      },
    },
    async (_request, reply) => reply.type(opts.registry.contentType).send(await opts.registry.metrics()),
  );
};

export default healthRoutes;
