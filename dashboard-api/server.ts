/**
 * Composition root of the dashboard API: creates the clients (MySQL pool, the state Redis, a Kafka
 * admin), builds the app (which owns them from then on and closes them in reverse when it closes),
 * listens, and returns close(). Nothing starts on import.
 */
import type { FastifyInstance } from 'fastify';
import type { TxmonConfig } from '../config/config.ts';
import { probeGroupLag } from '../platform/batch-consumer.ts';
import { createProbeAdmin } from '../platform/probe-admin.ts';
import type { Logger } from '../platform/logger.ts';
import { createPool } from '../platform/mysql.ts';
import { createStateRedis } from '../platform/redis.ts';
import { topicName } from '../topics/topics.ts';
import { loadConsole } from './console.ts';
import { buildApp } from './app.ts';
import { createApiMetrics } from './plugins/metrics.ts';
import { dependencyProbes } from './routes/health.ts';
import { deadLetterRecords } from './routes/pipeline.ts';
import { createTolerate, logOnlyTolerate, type Tolerate } from '../platform/tolerated.ts';

export interface ApiServer {
  app: FastifyInstance;
  url: string;
  close(): Promise<void>;
}

export async function startApi(
  cfg: TxmonConfig,
  logger: Logger,
  opts: { host?: string; port?: number } = {},
): Promise<ApiServer> {
  const log = logger.child({ component: 'api' });
  // Until the app owns the clients (its onClose closes them after in-flight requests), this does.
  const teardown: Array<() => Promise<void>> = [];
  let tolerate: Tolerate = logOnlyTolerate(log);
  const close = async () => {
    for (const fn of teardown.splice(0).reverse()) await fn().catch((err: unknown) => tolerate('teardown-step', err));
  };
  try {
    const pool = createPool(cfg, { connectionLimit: 8 });
    teardown.push(() => pool.end());
    const redis = createStateRedis(cfg);
    teardown.push(async () => void redis.disconnect());
    // The API's admin reads only for probes and scrapes (/metrics, /readyz, the pipeline view): no
    // retry loop and 2 s timeouts, so a missing topic or a slow broker cannot hold a scrape.
    const admin = createProbeAdmin(cfg);
    const ns = cfg.topicNamespace;
    const groups = [
      { group: cfg.ingest.groupId, topics: [topicName(ns, 'transactions')] },
      { group: cfg.recon.groupId, topics: [topicName(ns, 'transactions'), topicName(ns, 'settlements')] },
    ];
    const metrics = createApiMetrics({
      lag: async () => {
        const out: Array<{ group: string; topic: string; lag: number }> = [];
        for (const g of groups)
          for (const topic of g.topics) out.push({ group: g.group, topic, lag: await probeGroupLag(admin, g.group, topic) });
        return out;
      },
      deadLetters: () => deadLetterRecords(admin, [topicName(ns, 'transactionsDlq'), topicName(ns, 'settlementsDlq')]),
    });
    tolerate = createTolerate(metrics.registry, log);
    // ioredis reconnects by itself, the admin at its next call; readiness reports either while it is down.
    await redis.connect().catch((err: unknown) => tolerate('api-dependency-at-start', err, { dependency: 'redis' }));
    await admin.connect().catch((err: unknown) => tolerate('api-dependency-at-start', err, { dependency: 'kafka' }));
    teardown.push(() => admin.disconnect());

    const probes = dependencyProbes({
      pool,
      redisPing: () => redis.ping(),
      admin,
      lag: { read: () => probeGroupLag(admin, cfg.ingest.groupId, topicName(ns, 'transactions')), max: cfg.api.readyMaxLag },
    });
    const app = await buildApp(
      {
        pool,
        logger: log,
        metrics,
        probes,
        state: {
          redis,
          keyPrefix: cfg.keyPrefix,
          windows: cfg.state.windows,
          baseCurrency: cfg.state.baseCurrency,
          stateTtlMs: cfg.state.ttlSeconds * 1000,
        },
        pipeline: {
          admin,
          topology: {
            groups: groups.map((g) => ({ group: g.group, topics: g.topics })),
            deadLetterTopics: [topicName(ns, 'transactionsDlq'), topicName(ns, 'settlementsDlq')],
          },
        },
        driftPsiAlert: cfg.detection.driftPsiAlert,
        windows: cfg.state.windows,
        promotionCheck: cfg,
      },
      {
        rateLimitPerMinute: cfg.api.rateLimitPerMinute,
        keyCacheMs: cfg.api.keyCacheMs,
        guard: cfg.apiGuard,
        ownsClients: true,
        session: { ttlMs: cfg.api.sessionTtlMs, secureCookie: cfg.api.sessionCookieSecure },
        console: await loadConsole(),
      },
    );
    // The app closes the clients now.
    teardown.splice(0);
    teardown.push(() => app.close());
    const address = await app.listen({ host: opts.host ?? cfg.api.host, port: opts.port ?? cfg.api.port });
    return { app, url: address, close };
  } catch (err) {
    await close();
    throw err;
  }
}
