/**
 * Builds the dashboard API (no listening: tests call `inject`). Layers, as in fastify/demo: errors
 * and security (problem details, headers, rate limit), then the OpenAPI document and UI, then
 * authentication, then the routes, each stating its roles. Clients are passed in; their owner
 * (server.ts) closes them.
 */
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { TxmonConfig } from '../config/config.ts';
import type { Logger } from '../platform/logger.ts';
import type { Pool } from '../platform/mysql.ts';
import authPlugin from './plugins/auth.ts';
import clientsPlugin from './plugins/clients.ts';
import errorsPlugin, { clientErrorHandler, frameworkErrors } from './plugins/errors.ts';
import metricsPlugin, { type ApiMetrics } from './plugins/metrics.ts';
import alertsRoutes, { OpenStreams } from './routes/alerts.ts';
import healthRoutes, { type Probe } from './routes/health.ts';
import type { Admin } from 'kafkajs';
import { DEFAULT_WINDOWS, type WindowSpec } from '../domain/windows.ts';
import { FeatureSpace } from '../detection/features.ts';
import type { StateRedis } from '../platform/redis-pipelines.ts';
import accountRoutes from './routes/accounts.ts';
import modelRoutes from './routes/models.ts';
import rulesRoutes from './routes/rules.ts';
import type { CandidateSettings } from '../models/candidate.ts';
import rolloutRoutes from './routes/rollouts.ts';
import backtestRoutes from './routes/backtests.ts';
import pipelineRoutes, { type PipelineTopology } from './routes/pipeline.ts';
import opsRoutes from './routes/ops.ts';
import reconRoutes from './routes/reconciliation.ts';
import transactionRoutes from './routes/transactions.ts';
import sessionRoutes from './routes/session.ts';
import { consoleRoutes, type ConsoleAssets } from './console.ts';

export interface AppDeps {
  pool: Pool;
  logger: Logger;
  metrics: ApiMetrics;
  /** Readiness checks (dependency reachability, lag bound). */
  probes: Probe[];
  /** The state Redis and its layout, for accounts' live aggregates (absent: the route is not served). */
  state?: { redis: StateRedis; keyPrefix: string; windows: readonly WindowSpec[]; baseCurrency: string; stateTtlMs: number };
  /** The Kafka admin and what to report on, for the pipeline view (absent: not served). */
  pipeline?: { admin: Admin; topology: PipelineTopology };
  driftPsiAlert?: number;
  /** The configured windows: a rule set published here is validated against their features (default DEFAULT_WINDOWS). */
  windows?: readonly WindowSpec[];
  /** What a promotion's backtest reads (the rules file, windows, block score, days, fairness); absent: promotions are not checked. */
  promotionCheck?: CandidateSettings;
}

export interface AppOptions {
  /** Requests per minute per verified key. */
  rateLimitPerMinute: number;
  keyCacheMs: number;
  /** Limits against abuse: per-address limits, stream caps, HTTP timeouts, the connection cap. */
  guard: TxmonConfig['apiGuard'];
  probeTimeoutMs?: number;
  /** Close the clients (pool, Redis, Kafka admin) when the app closes: server.ts owns them; tests do not. */
  ownsClients?: boolean;
  /** Console sessions (default: 8 hours, cookie not Secure). */
  session?: { ttlMs: number; secureCookie: boolean };
  /** The console's files (loadConsole()); absent: `/` and `/console/*` are not served. */
  console?: ConsoleAssets;
}

/** The API version prefix of every business route. */
export const API_PREFIX = '/api/v1';

export async function buildApp(deps: AppDeps, opts: AppOptions): Promise<FastifyInstance> {
  const g = opts.guard;
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit: 64 * 1024,
    // Slow clients do not hold connections (issue 16): the whole request within requestTimeout, its
    // headers within headersTimeout (checked every second, not Node's default 30 s), no traffic
    // either way for idleTimeout (alert streams send heartbeats within it), idle keep-alive sockets
    // closed after keepAliveTimeout. The request timeout ends with the request: a long response
    // such as an alert stream is not cut by it.
    requestTimeout: g.requestTimeoutMs,
    connectionTimeout: g.idleTimeoutMs,
    keepAliveTimeout: g.keepAliveTimeoutMs,
    maxRequestsPerSocket: g.maxRequestsPerSocket,
    http: {
      headersTimeout: g.headersTimeoutMs,
      connectionsCheckingInterval: Math.min(1_000, Math.max(100, Math.floor(g.headersTimeoutMs / 4))),
    },
    // Errors raised before routing (a 414, a malformed URL or request) answer as problem details too.
    frameworkErrors,
    clientErrorHandler,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  // Beyond this many open connections the server refuses new ones at once (each costs memory and
  // a file descriptor; streams and slow clients are capped separately).
  app.server.maxConnections = g.maxConnections;

  await app.register(clientsPlugin, {
    clients: {
      pool: deps.pool,
      ...(deps.state && { redis: deps.state.redis }),
      ...(deps.pipeline && { admin: deps.pipeline.admin }),
    },
    owned: opts.ownsClients ?? false,
  });
  await app.register(errorsPlugin);
  // Open alert streams end first when the app closes (the server would otherwise wait for their clients).
  const streams = new OpenStreams(g.maxStreams);
  app.addHook('preClose', () => streams.endAll());
  await app.register(metricsPlugin, { metrics: deps.metrics });
  await app.register(helmet, {
    // The OpenAPI UI needs its own scripts and styles; everything else is JSON.
    contentSecurityPolicy: {
      directives: { defaultSrc: ["'self'"], scriptSrc: ["'self'"], styleSrc: ["'self'", 'https:'], imgSrc: ["'self'", 'data:'] },
    },
  });
  await app.register(rateLimit, {
    // Every request per client address (the plugin's default key: the socket's peer, IPv6 by subnet),
    // before any key is looked at: what a client presents cannot buy it a fresh allowance. The
    // per-key allowance and the failed-key budget are counted in the auth plugin.
    max: g.rateLimitPerAddressPerMinute,
    timeWindow: '1 minute',
    errorResponseBuilder: (_request, context) => {
      const err = new Error(`rate limit of ${context.max} requests per ${context.after} exceeded; retry later`) as Error & {
        statusCode: number;
      };
      err.statusCode = 429;
      return err;
    },
  });
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'txmon dashboard API',
        version: '1',
        description:
          'For SREs and fraud analysts: health and metrics, alerts and triage, transactions, reconciliation, models. Authenticate with `Authorization: Bearer <key>` (`txmon apikey create`), or, from the console at `/`, with the session cookie `POST /api/v1/session` sets (writes then carry its `X-CSRF-Token`). Errors are RFC 9457 problem details.',
      },
      components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'txmon API key (txk_...)' } } },
      security: [{ apiKey: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });
  await app.register(authPlugin, {
    pool: deps.pool,
    cacheMs: opts.keyCacheMs,
    negativeCacheMs: g.negativeKeyCacheMs,
    perKeyPerMinute: opts.rateLimitPerMinute,
    authFailuresPerMinute: g.authFailuresPerMinute,
  });

  await app.register(healthRoutes, {
    probes: deps.probes,
    registry: deps.metrics.registry,
    timeoutMs: opts.probeTimeoutMs ?? 2_000,
  });
  if (opts.console) consoleRoutes(app, opts.console);
  app.get('/openapi.json', { config: { roles: 'public' }, schema: { hide: true } }, async (_request, reply) =>
    reply.send(app.swagger()),
  );
  await app.register(
    async (api) => {
      await api.register(sessionRoutes, {
        pool: deps.pool,
        ttlMs: opts.session?.ttlMs ?? 8 * 3_600_000,
        secureCookie: opts.session?.secureCookie ?? false,
      });
      await api.register(alertsRoutes, {
        pool: deps.pool,
        streams,
        stream: {
          perKey: g.streamsPerKey,
          resumeMaxMs: g.streamResumeMaxMs,
          // Within the idle timeout, so a quiet stream is not cut as idle.
          heartbeatMs: Math.min(15_000, Math.floor(g.idleTimeoutMs / 3)),
        },
      });
      await api.register(transactionRoutes, { pool: deps.pool });
      await api.register(reconRoutes, { pool: deps.pool });
      await api.register(modelRoutes, {
        pool: deps.pool,
        driftPsiAlert: deps.driftPsiAlert ?? 0.25,
        ...(deps.promotionCheck && { promotionCheck: deps.promotionCheck }),
      });
      await api.register(rolloutRoutes, { pool: deps.pool });
      await api.register(opsRoutes, { pool: deps.pool });
      if (deps.promotionCheck) await api.register(backtestRoutes, { pool: deps.pool, settings: deps.promotionCheck });
      await api.register(rulesRoutes, {
        pool: deps.pool,
        featureNames: FeatureSpace.available(deps.windows ?? DEFAULT_WINDOWS),
        ...(deps.promotionCheck && { promotionCheck: deps.promotionCheck }),
      });
      if (deps.state) await api.register(accountRoutes, deps.state);
      if (deps.pipeline) await api.register(pipelineRoutes, { pool: deps.pool, ...deps.pipeline });
    },
    { prefix: API_PREFIX },
  );
  // A POST without a body is an empty object: routes whose fields are all optional accept it, and
  // routes with required fields say which one is missing.
  app.addHook('preValidation', async (request) => {
    if (request.method === 'POST' && request.body === undefined) request.body = {};
  });
  app.addHook('onSend', async (request, reply, payload) => {
    // No cache for authenticated answers.
    if (request.principal) reply.header('cache-control', 'no-store');
    return payload;
  });
  return app;
}
