/**
 * The one place that reads the environment. Every setting is validated once, at start-up,
 * into a frozen, typed object that is passed down; a bad value fails fast naming the setting.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { DEFAULT_WINDOWS, type WindowSpec } from '../domain/windows.ts';
import { ConfigError } from '../platform/errors.ts';
import type { MatchPolicy } from '../reconciliation/match.ts';

const port = z.coerce.number().int().min(1).max(65535);
const positiveInt = z.coerce.number().int().positive();
const boolFlag = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes');

const hostPort = z.string().regex(/^[A-Za-z0-9.\-[\]:]+:\d{1,5}$/, 'expected host:port');
/** A comma-separated list of host:port (blanks ignored). */
const hostPortList = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((s) =>
      s
        .split(',')
        .map((b) => b.trim())
        .filter(Boolean),
    )
    .pipe(z.array(hostPort));

/** Environment variables txmon reads, with their local defaults. */
const envSchema = z.object({
  TXMON_KAFKA_BROKERS: hostPortList('127.0.0.1:9092').refine((l) => l.length > 0, 'at least one broker'),
  TXMON_KAFKA_CLIENT_ID: z.string().min(1).default('txmon'),
  TXMON_REGISTRY_URL: z.url().default('http://127.0.0.1:8081/apis/ccompat/v7'),
  TXMON_MYSQL_URL: z
    .string()
    .default('mysql://root@127.0.0.1:3306/txmon')
    .refine((s) => /^mysql:\/\/[^/]+\/[A-Za-z0-9_]+$/.test(s), 'expected mysql://user[:password]@host:port/database'),
  TXMON_REDIS_URL: z
    .string()
    .default('redis://127.0.0.1:6379')
    .refine((s) => /^rediss?:\/\//.test(s), 'expected redis://host:port'),
  TXMON_REDIS_CLUSTER_NODES: hostPortList(''),
  TXMON_KEY_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]+$/, 'letters, digits, _ . : - only')
    .default('txmon'),
  TXMON_TOPIC_NAMESPACE: z
    .string()
    .regex(/^([A-Za-z0-9_-]+\.)?$/, 'empty, or a name ending in "." such as "staging."')
    .default(''),
  TXMON_INGEST_GROUP_ID: z.string().min(1).default('txmon-ingest'),
  TXMON_METRICS_PORT: port.default(9464),
  TXMON_METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  TXMON_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  TXMON_LOG_PRETTY: boolFlag.optional(),
  TXMON_DEDUP_TTL_SECONDS: positiveInt.default(7 * 24 * 3600),
  TXMON_MAX_FUTURE_SKEW_MS: z.coerce
    .number()
    .int()
    .min(0)
    .default(5 * 60 * 1000),
  TXMON_ALLOWED_LATENESS_MS: z.coerce
    .number()
    .int()
    .min(0)
    .default(10 * 60 * 1000),
  TXMON_STATE_TTL_SECONDS: positiveInt.default(48 * 3600),
  TXMON_BASE_CURRENCY: z
    .string()
    .regex(/^[A-Z]{3}$/, 'an ISO 4217 code such as USD')
    .default('USD'),
  TXMON_REFDATA_CACHE_TTL_MS: positiveInt.default(5 * 60_000),
  TXMON_INGEST_MAX_BYTES_PER_PARTITION: positiveInt.default(512 * 1024),
  TXMON_INGEST_SESSION_TIMEOUT_MS: positiveInt.default(30_000),
  TXMON_INGEST_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(2),
  TXMON_RETRY_MAX_BACKOFF_MS: positiveInt.default(10_000),
  TXMON_SHUTDOWN_TIMEOUT_MS: positiveInt.default(20_000),
  TXMON_HEAP_GROWING_PERCENT: z.coerce.number().int().min(0).max(400).default(20),
  TXMON_HOME: z.string().min(1).default('.txmon'),
  TXMON_JAVA_HOME: z.string().optional(),
  TXMON_REGISTRY_JAVA_HOME: z.string().optional(),
  TXMON_KAFKA_VERSION: z
    .string()
    .regex(/^\d+\.\d+\.\d+$/)
    .default('4.1.1'),
  TXMON_REGISTRY_VERSION: z
    .string()
    .regex(/^\d+\.\d+\.\d+(\.Final)?$/)
    .default('3.3.3'),
  TXMON_REGISTRY_MANAGEMENT_PORT: port.default(9000),
  TXMON_START_LOCAL_SERVICES: boolFlag.default(true),
  TXMON_RULES_FILE: z.string().min(1).optional(),
  TXMON_RULES_RELOAD_MS: positiveInt.default(2_000),
  TXMON_MODEL_POLL_MS: positiveInt.default(2_000),
  TXMON_DECISION_BLOCK_SCORE: z.coerce.number().gt(0).max(1).optional(),
  TXMON_DRIFT_PSI_ALERT: z.coerce.number().positive().default(0.25),
  TXMON_DRIFT_INTERVAL_MS: positiveInt.default(30_000),
  TXMON_API_HOST: z.string().min(1).default('127.0.0.1'),
  TXMON_API_PORT: port.default(8080),
  TXMON_API_RATE_LIMIT_PER_MINUTE: positiveInt.default(1_200),
  TXMON_API_KEY_CACHE_MS: z.coerce.number().int().min(0).default(10_000),
  TXMON_API_READY_MAX_LAG: z.coerce.number().int().min(0).default(1_000_000),
  TXMON_RECON_GROUP_ID: z.string().min(1).default('txmon-reconcile'),
  TXMON_RECON_METRICS_PORT: port.default(9465),
  TXMON_RECON_SETTLED_TYPES: z
    .string()
    .default('AUTHORIZATION,CAPTURE')
    .transform((s) =>
      s
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.enum(['AUTHORIZATION', 'CAPTURE', 'REFUND', 'REVERSAL'])).min(1)),
  TXMON_RECON_TOLERANCE_MINOR: z.coerce.number().int().min(0).default(0),
  TXMON_RECON_TOLERANCE_BPS: z.coerce.number().int().min(0).max(10_000).default(0),
  TXMON_RECON_SETTLE_WITHIN_MS: positiveInt.default(3 * 24 * 3600 * 1000),
  TXMON_RECON_UNEXPECTED_AFTER_MS: positiveInt.default(24 * 3600 * 1000),
  TXMON_RECON_ALLOWED_LATENESS_MS: z.coerce
    .number()
    .int()
    .min(0)
    .default(3600 * 1000),
  // issue 16: API
  TXMON_API_RATE_LIMIT_PER_ADDRESS_PER_MINUTE: positiveInt.default(3_000),
  TXMON_API_AUTH_FAILURES_PER_MINUTE: positiveInt.default(30),
  TXMON_API_KEY_NEGATIVE_CACHE_MS: z.coerce.number().int().min(0).default(5_000),
  TXMON_API_MAX_STREAMS: positiveInt.default(100),
  TXMON_API_STREAMS_PER_KEY: positiveInt.default(5),
  TXMON_API_STREAM_RESUME_MAX_MS: positiveInt.default(15 * 60_000),
  TXMON_API_REQUEST_TIMEOUT_MS: positiveInt.default(30_000),
  TXMON_API_HEADERS_TIMEOUT_MS: positiveInt.default(10_000),
  TXMON_API_KEEP_ALIVE_TIMEOUT_MS: positiveInt.default(5_000),
  TXMON_API_IDLE_TIMEOUT_MS: z.coerce.number().int().min(3_000).default(60_000),
  TXMON_API_MAX_REQUESTS_PER_SOCKET: z.coerce.number().int().min(0).default(1_000),
  TXMON_API_MAX_CONNECTIONS: positiveInt.default(1_024),
});

/** The rule set shipped with txmon, whatever the working directory. */
const DEFAULT_RULES_FILE = fileURLToPath(new URL('../rules/rules.json', import.meta.url));

export type TxmonConfig = Readonly<{
  kafka: Readonly<{ brokers: readonly string[]; clientId: string }>;
  registryUrl: string;
  mysql: Readonly<{ url: string; database: string; serverUrl: string }>;
  redisUrl: string;
  /** The state Redis as a Redis Cluster: seed nodes (host:port); null for the single Redis at redisUrl. */
  redisCluster: readonly string[] | null;
  keyPrefix: string;
  topicNamespace: string;
  ingest: Readonly<{
    groupId: string;
    maxBytesPerPartition: number;
    sessionTimeoutMs: number;
    /** Partitions processed at once (each with its own transactional producer). */
    concurrency: number;
    dedupTtlSeconds: number;
    maxFutureSkewMs: number;
    /** Event-time lateness: a record older than its partition's max event time minus this is late. */
    allowedLatenessMs: number;
  }>;
  state: Readonly<{
    /** Windows and the event-time buckets they slide in (fixed: DEFAULT_WINDOWS). */
    windows: readonly WindowSpec[];
    /** Life of windows, stats and entity markers after their last update (wall clock). */
    ttlSeconds: number;
    /** Currency of window sums and amount features (exact FX conversion). */
    baseCurrency: string;
    refdataCacheTtlMs: number;
  }>;
  detection: Readonly<{
    /** The rule set (JSON); re-read when it changes. */
    rulesFile: string;
    rulesReloadMs: number;
    /** How often processors look for model promotions, shadows and rollbacks. */
    modelPollMs: number;
    /** Model score at or above which the model alone blocks; null: it only sends to review. */
    blockScore: number | null;
    /** Score PSI above which the drift alert is raised. */
    driftPsiAlert: number;
    /** How often drift is computed over the recent traffic. */
    driftIntervalMs: number;
  }>;
  recon: Readonly<{
    groupId: string;
    /** Port of the reconcile processor's /metrics (the ingest processor's is metrics.port). */
    metricsPort: number;
    /** Transaction types that expect a settlement line. */
    settledTypes: readonly string[];
    /** Matching policy (reconciliation/match.ts). */
    policy: Readonly<MatchPolicy>;
    /** Settlement event times may arrive this far out of order before the watermark passes them. */
    allowedLatenessMs: number;
  }>;
  api: Readonly<{
    host: string;
    port: number;
    /** Requests per minute per verified API key (per client address: apiGuard.rateLimitPerAddressPerMinute). */
    rateLimitPerMinute: number;
    /** How long a verified key is trusted before MySQL is asked again (a revocation takes this long). */
    keyCacheMs: number;
    /** /readyz turns red when the ingest group is more records than this behind. */
    readyMaxLag: number;
  }>;
  metrics: Readonly<{ host: string; port: number }>;
  log: Readonly<{ level: string; pretty: boolean }>;
  retryMaxBackoffMs: number;
  shutdownTimeoutMs: number;
  /**
   * How far V8 lets a long-running process's heap grow past its live data before the next full
   * collection, in percent (0: V8's own policy, which let the ingest heap reach ~4× its live data).
   */
  heapGrowingPercent: number;
  services: Readonly<{
    home: string;
    javaHome: string | undefined;
    registryJavaHome: string | undefined;
    kafkaVersion: string;
    registryVersion: string;
    registryManagementPort: number;
    startLocal: boolean;
  }>;
  // issue 16: API
  /** The dashboard API's limits against abuse: rate limits, stream caps, HTTP timeouts (docs/configuration.md). */
  apiGuard: Readonly<{
    /** Requests per minute per client address, before any key is looked at. */
    rateLimitPerAddressPerMinute: number;
    /** Failed key checks per minute per client address; then 429 without a lookup. */
    authFailuresPerMinute: number;
    /** How long a failed key is remembered as failed (no MySQL lookup meanwhile). */
    negativeKeyCacheMs: number;
    /** Alert streams one API process serves at once. */
    maxStreams: number;
    /** Alert streams one key may hold open at once. */
    streamsPerKey: number;
    /** How far back (by when an alert was raised) a stream resumed with Last-Event-ID may reach. */
    streamResumeMaxMs: number;
    /** A request must have arrived whole (headers and body) within this long. */
    requestTimeoutMs: number;
    /** A request's headers must have arrived within this long. */
    headersTimeoutMs: number;
    /** An idle keep-alive connection is closed after this long. */
    keepAliveTimeoutMs: number;
    /** A connection with no traffic either way is closed after this long (alert streams send a heartbeat within it). */
    idleTimeoutMs: number;
    /** Requests served on one keep-alive connection before it is closed (0: no limit). */
    maxRequestsPerSocket: number;
    /** Open connections one API process accepts; more are refused at once. */
    maxConnections: number;
  }>;
}>;

/** Validates the environment into a frozen config; throws ConfigError naming every bad setting. */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): TxmonConfig {
  const picked: Record<string, string> = {};
  for (const key of Object.keys(envSchema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== '') picked[key] = value;
  }
  const parsed = envSchema.safeParse(picked);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => {
      const name = String(i.path[0] ?? '?');
      return `${name}=${JSON.stringify(picked[name] ?? '')}: ${i.message}`;
    });
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  const e = parsed.data;
  const longest = Math.max(...DEFAULT_WINDOWS.map((w) => w.lengthMs));
  if (e.TXMON_STATE_TTL_SECONDS * 1000 < longest + e.TXMON_ALLOWED_LATENESS_MS)
    throw new ConfigError(
      `invalid configuration: TXMON_STATE_TTL_SECONDS=${e.TXMON_STATE_TTL_SECONDS}: must cover the longest window plus ` +
        `TXMON_ALLOWED_LATENESS_MS (at least ${Math.ceil((longest + e.TXMON_ALLOWED_LATENESS_MS) / 1000)})`,
    );
  // issue 16: API. Node refuses a headers timeout longer than the request timeout.
  if (e.TXMON_API_HEADERS_TIMEOUT_MS > e.TXMON_API_REQUEST_TIMEOUT_MS)
    throw new ConfigError(
      `invalid configuration: TXMON_API_HEADERS_TIMEOUT_MS=${e.TXMON_API_HEADERS_TIMEOUT_MS}: must not exceed TXMON_API_REQUEST_TIMEOUT_MS (${e.TXMON_API_REQUEST_TIMEOUT_MS})`,
    );
  const mysqlMatch = /^(mysql:\/\/[^/]+)\/([A-Za-z0-9_]+)$/.exec(e.TXMON_MYSQL_URL);
  if (!mysqlMatch?.[1] || !mysqlMatch[2]) throw new ConfigError(`invalid configuration: TXMON_MYSQL_URL`);
  return deepFreeze({
    kafka: { brokers: e.TXMON_KAFKA_BROKERS, clientId: e.TXMON_KAFKA_CLIENT_ID },
    registryUrl: e.TXMON_REGISTRY_URL.replace(/\/+$/, ''),
    mysql: { url: e.TXMON_MYSQL_URL, database: mysqlMatch[2], serverUrl: mysqlMatch[1] },
    redisUrl: e.TXMON_REDIS_URL,
    redisCluster: e.TXMON_REDIS_CLUSTER_NODES.length > 0 ? e.TXMON_REDIS_CLUSTER_NODES : null,
    keyPrefix: e.TXMON_KEY_PREFIX,
    topicNamespace: e.TXMON_TOPIC_NAMESPACE,
    ingest: {
      groupId: e.TXMON_INGEST_GROUP_ID,
      maxBytesPerPartition: e.TXMON_INGEST_MAX_BYTES_PER_PARTITION,
      sessionTimeoutMs: e.TXMON_INGEST_SESSION_TIMEOUT_MS,
      concurrency: e.TXMON_INGEST_CONCURRENCY,
      dedupTtlSeconds: e.TXMON_DEDUP_TTL_SECONDS,
      maxFutureSkewMs: e.TXMON_MAX_FUTURE_SKEW_MS,
      allowedLatenessMs: e.TXMON_ALLOWED_LATENESS_MS,
    },
    state: {
      windows: DEFAULT_WINDOWS,
      ttlSeconds: e.TXMON_STATE_TTL_SECONDS,
      baseCurrency: e.TXMON_BASE_CURRENCY,
      refdataCacheTtlMs: e.TXMON_REFDATA_CACHE_TTL_MS,
    },
    detection: {
      rulesFile: e.TXMON_RULES_FILE === undefined ? DEFAULT_RULES_FILE : resolve(e.TXMON_RULES_FILE),
      rulesReloadMs: e.TXMON_RULES_RELOAD_MS,
      modelPollMs: e.TXMON_MODEL_POLL_MS,
      blockScore: e.TXMON_DECISION_BLOCK_SCORE ?? null,
      driftPsiAlert: e.TXMON_DRIFT_PSI_ALERT,
      driftIntervalMs: e.TXMON_DRIFT_INTERVAL_MS,
    },
    recon: {
      groupId: e.TXMON_RECON_GROUP_ID,
      metricsPort: e.TXMON_RECON_METRICS_PORT,
      settledTypes: [...new Set(e.TXMON_RECON_SETTLED_TYPES)],
      policy: {
        toleranceMinor: BigInt(e.TXMON_RECON_TOLERANCE_MINOR),
        toleranceBps: BigInt(e.TXMON_RECON_TOLERANCE_BPS),
        settleWithinMs: e.TXMON_RECON_SETTLE_WITHIN_MS,
        unexpectedAfterMs: e.TXMON_RECON_UNEXPECTED_AFTER_MS,
      },
      allowedLatenessMs: e.TXMON_RECON_ALLOWED_LATENESS_MS,
    },
    api: {
      host: e.TXMON_API_HOST,
      port: e.TXMON_API_PORT,
      rateLimitPerMinute: e.TXMON_API_RATE_LIMIT_PER_MINUTE,
      keyCacheMs: e.TXMON_API_KEY_CACHE_MS,
      readyMaxLag: e.TXMON_API_READY_MAX_LAG,
    },
    metrics: { host: e.TXMON_METRICS_HOST, port: e.TXMON_METRICS_PORT },
    log: { level: e.TXMON_LOG_LEVEL, pretty: e.TXMON_LOG_PRETTY ?? false },
    retryMaxBackoffMs: e.TXMON_RETRY_MAX_BACKOFF_MS,
    shutdownTimeoutMs: e.TXMON_SHUTDOWN_TIMEOUT_MS,
    heapGrowingPercent: e.TXMON_HEAP_GROWING_PERCENT,
    services: {
      home: resolve(e.TXMON_HOME),
      javaHome: e.TXMON_JAVA_HOME,
      registryJavaHome: e.TXMON_REGISTRY_JAVA_HOME,
      kafkaVersion: e.TXMON_KAFKA_VERSION,
      registryVersion: e.TXMON_REGISTRY_VERSION,
      registryManagementPort: e.TXMON_REGISTRY_MANAGEMENT_PORT,
      startLocal: e.TXMON_START_LOCAL_SERVICES,
    },
    // issue 16: API
    apiGuard: {
      rateLimitPerAddressPerMinute: e.TXMON_API_RATE_LIMIT_PER_ADDRESS_PER_MINUTE,
      authFailuresPerMinute: e.TXMON_API_AUTH_FAILURES_PER_MINUTE,
      negativeKeyCacheMs: e.TXMON_API_KEY_NEGATIVE_CACHE_MS,
      maxStreams: e.TXMON_API_MAX_STREAMS,
      streamsPerKey: e.TXMON_API_STREAMS_PER_KEY,
      streamResumeMaxMs: e.TXMON_API_STREAM_RESUME_MAX_MS,
      requestTimeoutMs: e.TXMON_API_REQUEST_TIMEOUT_MS,
      headersTimeoutMs: e.TXMON_API_HEADERS_TIMEOUT_MS,
      keepAliveTimeoutMs: e.TXMON_API_KEEP_ALIVE_TIMEOUT_MS,
      idleTimeoutMs: e.TXMON_API_IDLE_TIMEOUT_MS,
      maxRequestsPerSocket: e.TXMON_API_MAX_REQUESTS_PER_SOCKET,
      maxConnections: e.TXMON_API_MAX_CONNECTIONS,
    },
  });
}

/** The names of every environment variable txmon understands (for --help and docs). */
export const CONFIG_KEYS: readonly string[] = Object.freeze(Object.keys(envSchema.shape));

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
