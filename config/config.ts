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
import { readSettingFile, redactUrl, Secret, secretSetting } from './secrets.ts';

export { Secret } from './secrets.ts';

const port = z.coerce.number().int().min(1).max(65535);
const positiveInt = z.coerce.number().int().positive();
const boolFlag = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes');

const hostPort = z.string().regex(/^[A-Za-z0-9.\-[\]:]+:\d{1,5}$/, 'expected host:port');
/** A comma-separated list: trimmed, blanks dropped. */
const commaList = (s: string): string[] =>
  s
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
/** A comma-separated list of host:port (blanks ignored). */
const hostPortList = (fallback: string) => z.string().default(fallback).transform(commaList).pipe(z.array(hostPort));

/** Environment variables txmon reads, with their local defaults. */
const envSchema = z.object({
  TXMON_KAFKA_BROKERS: hostPortList('127.0.0.1:9092').refine((l) => l.length > 0, 'at least one broker'),
  TXMON_KAFKA_CLIENT_ID: z.string().min(1).default('txmon'),
  TXMON_KAFKA_SSL: boolFlag.optional(),
  TXMON_KAFKA_SSL_CA_FILE: z.string().min(1).optional(),
  TXMON_KAFKA_SSL_CERT_FILE: z.string().min(1).optional(),
  TXMON_KAFKA_SSL_KEY_FILE: z.string().min(1).optional(),
  TXMON_KAFKA_SASL_MECHANISM: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']).optional(),
  TXMON_KAFKA_SASL_USERNAME: z.string().min(1).optional(),
  TXMON_KAFKA_SASL_PASSWORD: z.string().optional(),
  TXMON_KAFKA_SASL_PASSWORD_FILE: z.string().optional(),
  TXMON_REGISTRY_URL: z.url().default('http://127.0.0.1:8081/apis/ccompat/v7'),
  TXMON_REGISTRY_UNKNOWN_ID_RETRY_MS: z.coerce.number().int().min(0).max(3_600_000).default(10_000),
  TXMON_REGISTRY_USERNAME: z.string().min(1).optional(),
  TXMON_REGISTRY_PASSWORD: z.string().optional(),
  TXMON_REGISTRY_PASSWORD_FILE: z.string().optional(),
  TXMON_REGISTRY_TOKEN: z.string().optional(),
  TXMON_REGISTRY_TOKEN_FILE: z.string().optional(),
  TXMON_MYSQL_URL: z
    .string()
    .default('mysql://root@127.0.0.1:3306/txmon')
    .refine((s) => /^mysql:\/\/[^/]+\/[A-Za-z0-9_]+$/.test(s), 'expected mysql://user[:password]@host:port/database'),
  TXMON_MYSQL_PASSWORD: z.string().optional(),
  TXMON_MYSQL_PASSWORD_FILE: z.string().optional(),
  TXMON_MYSQL_SSL: boolFlag.optional(),
  TXMON_MYSQL_SSL_CA_FILE: z.string().min(1).optional(),
  TXMON_MYSQL_USER_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_]{1,40}$/, 'letters, digits and _ only, at most 40')
    .default('txmon'),
  TXMON_MYSQL_INGEST_PASSWORD: z.string().optional(),
  TXMON_MYSQL_INGEST_PASSWORD_FILE: z.string().optional(),
  TXMON_MYSQL_RECONCILE_PASSWORD: z.string().optional(),
  TXMON_MYSQL_RECONCILE_PASSWORD_FILE: z.string().optional(),
  TXMON_MYSQL_API_PASSWORD: z.string().optional(),
  TXMON_MYSQL_API_PASSWORD_FILE: z.string().optional(),
  TXMON_MYSQL_OPS_PASSWORD: z.string().optional(),
  TXMON_MYSQL_OPS_PASSWORD_FILE: z.string().optional(),
  TXMON_REDIS_URL: z
    .string()
    .default('redis://127.0.0.1:6379')
    .refine((s) => /^rediss?:\/\/[^/?#]+(\/\d{1,2})?$/.test(s), 'expected redis[s]://[user:password@]host:port[/db]'),
  TXMON_REDIS_CLUSTER_NODES: hostPortList(''),
  TXMON_REDIS_USERNAME: z.string().min(1).optional(),
  TXMON_REDIS_PASSWORD: z.string().optional(),
  TXMON_REDIS_PASSWORD_FILE: z.string().optional(),
  TXMON_REDIS_TLS: boolFlag.optional(),
  TXMON_REDIS_TLS_CA_FILE: z.string().min(1).optional(),
  TXMON_KEY_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]+$/, 'letters, digits, _ . : - only')
    .default('txmon'),
  TXMON_TOPIC_REPLICATION_FACTOR: z.coerce.number().int().min(1).max(7).default(1),
  TXMON_TOPIC_MIN_INSYNC_REPLICAS: z.coerce.number().int().min(1).max(7).optional(),
  TXMON_TOPIC_NAMESPACE: z
    .string()
    .regex(/^([A-Za-z0-9_-]+\.)?$/, 'empty, or a name ending in "." such as "staging."')
    .default(''),
  TXMON_INGEST_GROUP_ID: z.string().min(1).default('txmon-ingest'),
  TXMON_METRICS_PORT: port.default(9464),
  TXMON_METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  TXMON_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  TXMON_LOG_PRETTY: boolFlag.optional(),
  /** Unused since issue 17 (re-sends are recognised by MySQL's unique key, without limit); still accepted so existing deployments start. */
  TXMON_DEDUP_TTL_SECONDS: positiveInt.optional(),
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
  TXMON_STATE_CACHE_MB: positiveInt.default(128),
  TXMON_STATE_SHARED_REFRESH_MS: z.coerce.number().int().min(0).max(60_000).default(1_000),
  TXMON_STATE_CHECKPOINT_MS: z.coerce.number().int().min(0).max(60_000).default(5_000),
  TXMON_STATE_SHARED_CHECKPOINT_MS: z.coerce.number().int().min(0).max(60_000).default(1_000),
  TXMON_BASE_CURRENCY: z
    .string()
    .regex(/^[A-Z]{3}$/, 'an ISO 4217 code such as USD')
    .default('USD'),
  TXMON_REFDATA_CACHE_TTL_MS: positiveInt.default(5 * 60_000),
  TXMON_INGEST_MAX_BYTES_PER_PARTITION: positiveInt.default(512 * 1024),
  TXMON_INGEST_SESSION_TIMEOUT_MS: positiveInt.default(30_000),
  TXMON_INGEST_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(3),
  TXMON_FAULT_KILL_AT: z
    .string()
    .regex(/^(after-mysql|after-checkpoint|after-commit):[1-9]\d{0,5}$/, {
      message: 'must be <after-mysql|after-checkpoint|after-commit>:<n>, e.g. after-checkpoint:3 (crash tests only)',
    })
    .optional(),
  TXMON_RETRY_MAX_BACKOFF_MS: positiveInt.default(10_000),
  TXMON_SHUTDOWN_TIMEOUT_MS: positiveInt.default(20_000),
  TXMON_HEAP_GROWING_PERCENT: z.coerce.number().int().min(0).max(400).default(50),
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
  TXMON_FAIRNESS_FACTOR: z.coerce.number().gt(1).default(2),
  TXMON_FAIRNESS_MIN_ALERTS: positiveInt.default(20),
  TXMON_PROMOTION_CHECK_DAYS: positiveInt.default(7),
  TXMON_ROLLOUT_CHECK_MS: positiveInt.default(10_000),
  TXMON_ROLLOUT_MAX_ALERT_RATE_FACTOR: z.coerce.number().gt(1).default(2),
  TXMON_ROLLOUT_MAX_REVIEW_QUEUE_GROWTH: z.coerce.number().positive().default(1),
  TXMON_ROLLOUT_MAX_SCORE_PSI: z.coerce.number().positive().default(0.25),
  TXMON_ROLLOUT_MIN_DECISIONS: positiveInt.default(500),
  TXMON_FAULT_ROLLOUT_STEP: boolFlag.default(false),
  TXMON_API_HOST: z.string().min(1).default('127.0.0.1'),
  TXMON_API_PORT: port.default(8080),
  TXMON_API_RATE_LIMIT_PER_MINUTE: positiveInt.default(1_200),
  TXMON_API_KEY_CACHE_MS: z.coerce.number().int().min(0).default(10_000),
  TXMON_API_READY_MAX_LAG: z.coerce.number().int().min(0).default(1_000_000),
  // issue 20: console sessions (8 hours: an analyst's shift)
  TXMON_API_SESSION_TTL_MS: z.coerce
    .number()
    .int()
    .min(60_000)
    .max(7 * 86_400_000)
    .default(8 * 3_600_000),
  TXMON_API_SESSION_COOKIE_SECURE: boolFlag.default(false),
  TXMON_RECON_GROUP_ID: z.string().min(1).default('txmon-reconcile'),
  TXMON_RECON_METRICS_PORT: port.default(9465),
  TXMON_RECON_SETTLED_TYPES: z
    .string()
    .default('AUTHORIZATION,CAPTURE')
    .transform(commaList)
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
  // issue 16: input caps. Below these minimums a legal record (fields of up to 128 characters) would be rejected.
  TXMON_INGEST_MAX_RECORD_BYTES: z.coerce
    .number()
    .int()
    .min(4096)
    .default(16 * 1024),
  TXMON_INGEST_MAX_FIELD_CHARS: z.coerce.number().int().min(128).default(256),
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
  // issue 21: ops-watch
  TXMON_OPS_TARGETS: z
    .string()
    .optional()
    .transform((s) => (s === undefined ? undefined : commaList(s)))
    .pipe(
      z
        .array(z.string().regex(/^[a-z][a-z0-9-]*=https?:\/\/\S+$/, 'expected name=http(s)://host:port/metrics, comma-separated'))
        .min(1)
        .optional(),
    ),
  // An API key (role sre or admin) ops-watch presents to the API's /metrics (its target named `api`).
  TXMON_OPS_API_TOKEN: z.string().optional(),
  TXMON_OPS_API_TOKEN_FILE: z.string().optional(),
  // issue 22: the processors' log files, mined into templates (empty: no logs read).
  TXMON_OPS_LOG_FILES: z.string().default('').transform(commaList),
  TXMON_OPS_BROKER_LAG: boolFlag.default(true),
  TXMON_OPS_LOG_WARMUP_MS: z.coerce.number().int().min(0).default(900_000),
  TXMON_OPS_SCRAPE_MS: z.coerce.number().int().min(1_000).default(15_000),
  TXMON_OPS_WINDOW_MS: z.coerce.number().int().min(60_000).default(3_600_000),
  TXMON_OPS_THRESHOLD: z.coerce.number().positive().default(5),
  TXMON_OPS_PERSIST: positiveInt.default(3),
  TXMON_OPS_MIN_POINTS: z.coerce.number().int().min(2).default(20),
  TXMON_OPS_GROUP_MS: positiveInt.default(60_000),
  TXMON_OPS_QUIET_MS: positiveInt.default(120_000),
  TXMON_OPS_HORIZON_MS: positiveInt.default(15 * 60_000),
  TXMON_OPS_FORECAST_POINTS: z.coerce.number().int().min(3).default(12),
  TXMON_OPS_METRICS_PORT: port.default(9466),
  TXMON_OPS_SLO_LAG_RECORDS: z.coerce.number().positive().default(100_000),
  TXMON_OPS_SLO_LATENCY_P99_MS: z.coerce.number().positive().default(1_000),
  TXMON_OPS_SLO_DLQ_PER_S: z.coerce.number().positive().default(1),
});

/** The rule set shipped with txmon, whatever the working directory. */
const DEFAULT_RULES_FILE = fileURLToPath(new URL('../rules/rules.json', import.meta.url));

/** TLS material read from the configured files at start-up (PEM); absent: the system's trusted CAs. */
export type TlsFiles = Readonly<{ ca?: Buffer; cert?: Buffer; key?: Buffer }>;

/** A least-privilege MySQL user `txmon migrate` creates (platform/mysql-users.ts). */
export type MysqlRole = 'ingest' | 'reconcile' | 'api' | 'ops';

export type TxmonConfig = Readonly<{
  kafka: Readonly<{
    brokers: readonly string[];
    clientId: string;
    /** TLS to the brokers; null: plaintext. */
    ssl: TlsFiles | null;
    /** SASL authentication; null: none. */
    sasl: Readonly<{ mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: Secret }> | null;
  }>;
  registryUrl: string;
  /** How long a schema id the registry did not know stays unknown before a batch asks again (ms; 0: every batch that starts after the answer asks). */
  registryUnknownIdRetryMs: number;
  /** Credentials for the registry: HTTP basic, a bearer token, or none. */
  registryAuth: Readonly<{ kind: 'basic'; username: string; password: Secret } | { kind: 'bearer'; token: Secret }> | null;
  mysql: Readonly<{
    /** TXMON_MYSQL_URL as given (it may carry a password: never print it, see redactUrl). */
    url: string;
    database: string;
    /** The URL without the database (as given). */
    serverUrl: string;
    host: string;
    port: number;
    user: string;
    /** TXMON_MYSQL_PASSWORD(_FILE), else the URL's password; undefined: none. */
    password: Secret | undefined;
    /** TLS to the server; null: plaintext. */
    ssl: TlsFiles | null;
    /** Names of the least-privilege users: <prefix>_ingest, <prefix>_reconcile, <prefix>_api. */
    userPrefix: string;
    /** Passwords of the least-privilege users `txmon migrate` creates; a role without one is not created. */
    rolePasswords: Readonly<Partial<Record<MysqlRole, Secret>>>;
  }>;
  /** TXMON_REDIS_URL as given (it may carry a password: never print it, see redactUrl). */
  redisUrl: string;
  /** Authentication and TLS to Redis, applied to the single Redis and to every Redis Cluster node. */
  redis: Readonly<{ username: string | undefined; password: Secret | undefined; tls: TlsFiles | null }>;
  /** The state Redis as a Redis Cluster: seed nodes (host:port); null for the single Redis at redisUrl. */
  redisCluster: readonly string[] | null;
  keyPrefix: string;
  topicNamespace: string;
  /**
   * Replicas of each topic `topics apply` creates, and the broker's min.insync.replicas for them
   * (default: factor - 1 from a factor of 3 on, else 1). One broker: 1; a cluster: 3 and 2.
   */
  topicReplication: Readonly<{ factor: number; minInsync: number }>;
  ingest: Readonly<{
    groupId: string;
    maxBytesPerPartition: number;
    sessionTimeoutMs: number;
    /** Partitions processed at once (each with its own transactional producer). */
    concurrency: number;
    /** Crash tests only: SIGKILL this process the n-th time a batch reaches the point (TXMON_FAULT_KILL_AT). */
    faultKillAt: { point: 'after-mysql' | 'after-checkpoint' | 'after-commit'; n: number } | null;
    maxFutureSkewMs: number;
    /** Event-time lateness: a record older than its partition's max event time minus this is late. */
    allowedLatenessMs: number;
  }>;
  state: Readonly<{
    /** Windows and the event-time buckets they slide in (fixed: DEFAULT_WINDOWS). */
    windows: readonly WindowSpec[];
    /** Life of windows, stats and entity markers after their last update (wall clock). */
    ttlSeconds: number;
    /**
     * Cap of the own window contributions an ingest process keeps in memory between batches,
     * approximate bytes (state/partition-state.ts; checkpointed entries are evicted beyond it).
     */
    cacheBytes: number;
    /**
     * How long a shared entity's other partitions' contributions (merchants, devices) are used
     * before they are read again, ms; 0: every batch (state/partition-state.ts sharedRefreshMs).
     */
    sharedRefreshMs: number;
    /**
     * How often a partition's changed windows are checkpointed to Redis, ms; 0: every batch. Between
     * checkpoints the partition's progress in Redis trails Kafka's committed offset, and a process
     * that takes the partition over replays the records in between (docs/state.md).
     */
    checkpointMs: number;
    /**
     * How often, between those checkpoints, a partition's changed shared contributions (merchants,
     * devices: what other partitions read) are checkpointed alone, ms; 0: every batch.
     */
    sharedCheckpointMs: number;
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
    /** A segment whose alert rate moves by more than this factor either way is flagged (backtests, promotions). */
    fairnessFactor: number;
    /** Segments with fewer alerts than this on either side are not flagged. */
    fairnessMinAlerts: number;
    /** A promotion backtests the candidate over this many days of the latest stored decisions. */
    promotionCheckDays: number;
    /** How often each ingest process checks a running rollout's guardrails. */
    rolloutCheckMs: number;
    /** Guardrails: the canary's alert rate against the control's, the review queue's growth, a model canary's score PSI. */
    rolloutMaxAlertRateFactor: number;
    rolloutMaxReviewQueueGrowth: number;
    rolloutMaxScorePsi: number;
    /** The alert-rate guardrail judges a canary only from this many decisions. */
    rolloutMinDecisions: number;
    /** Crash tests only: SIGKILL a rollout step after its change, before its commit (TXMON_FAULT_ROLLOUT_STEP). */
    faultRolloutStep: boolean;
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
  /** ops-watch (issue 21): what it scrapes, how its detector and forecaster are set. */
  ops: Readonly<{
    /** Targets by name: their /metrics URL. */
    targets: ReadonlyArray<Readonly<{ name: string; url: string }>>;
    /** TXMON_OPS_API_TOKEN(_FILE): the key ops-watch presents to its target named `api` (the API's /metrics needs sre or admin); null: none. */
    apiToken: Secret | null;
    /** The processors' log files, mined into templates each round (issue 22); empty: none. */
    logFiles: readonly string[];
    /** Templates first seen this soon after the start are the baseline's, not new. */
    logWarmupMs: number;
    /**
     * Read the ingest and reconcile groups' lag from the broker each round (ops/broker-lag.ts), as a
     * target named `kafka`; false: only the processors' own lag gauges.
     */
    brokerLag: boolean;
    scrapeMs: number;
    windowMs: number;
    threshold: number;
    persist: number;
    minPoints: number;
    groupMs: number;
    quietMs: number;
    horizonMs: number;
    forecastPoints: number;
    metricsPort: number;
    slo: Readonly<{ lagRecords: number; latencyP99Ms: number; dlqPerSecond: number }>;
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
    /** How long a console session lasts after its sign-in. */
    sessionTtlMs: number;
    /** Mark the session cookie Secure (the API is reached over HTTPS, e.g. behind a TLS proxy). */
    sessionCookieSecure: boolean;
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
  // issue 16: input caps
  /** Checked before a consumed record (transaction or settlement) is decoded or scanned; bigger ones are dead-lettered OVERSIZED. */
  inputCaps: Readonly<{ maxRecordBytes: number; maxFieldChars: number }>;
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
      return `${name}=${JSON.stringify(printable(name, picked[name] ?? ''))}: ${i.message}`;
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
  if ((e.TXMON_TOPIC_MIN_INSYNC_REPLICAS ?? 1) > e.TXMON_TOPIC_REPLICATION_FACTOR)
    throw new ConfigError(
      `invalid configuration: TXMON_TOPIC_MIN_INSYNC_REPLICAS=${e.TXMON_TOPIC_MIN_INSYNC_REPLICAS}: must not exceed TXMON_TOPIC_REPLICATION_FACTOR (${e.TXMON_TOPIC_REPLICATION_FACTOR}), or no write could succeed`,
    );
  // issue 16: API. Node refuses a headers timeout longer than the request timeout.
  if (e.TXMON_API_HEADERS_TIMEOUT_MS > e.TXMON_API_REQUEST_TIMEOUT_MS)
    throw new ConfigError(
      `invalid configuration: TXMON_API_HEADERS_TIMEOUT_MS=${e.TXMON_API_HEADERS_TIMEOUT_MS}: must not exceed TXMON_API_REQUEST_TIMEOUT_MS (${e.TXMON_API_REQUEST_TIMEOUT_MS})`,
    );
  const mysqlMatch = /^(mysql:\/\/[^/]+)\/([A-Za-z0-9_]+)$/.exec(e.TXMON_MYSQL_URL);
  if (!mysqlMatch?.[1] || !mysqlMatch[2]) throw new ConfigError(`invalid configuration: TXMON_MYSQL_URL`);
  const conn = connectionSettings(e, picked, mysqlMatch[1]);
  const ops = opsTargets(e, picked);
  return deepFreeze({
    kafka: { brokers: e.TXMON_KAFKA_BROKERS, clientId: e.TXMON_KAFKA_CLIENT_ID, ssl: conn.kafkaSsl, sasl: conn.kafkaSasl },
    registryUrl: e.TXMON_REGISTRY_URL.replace(/\/+$/, ''),
    registryUnknownIdRetryMs: e.TXMON_REGISTRY_UNKNOWN_ID_RETRY_MS,
    registryAuth: conn.registryAuth,
    mysql: { url: e.TXMON_MYSQL_URL, database: mysqlMatch[2], serverUrl: mysqlMatch[1], ...conn.mysql },
    redisUrl: e.TXMON_REDIS_URL,
    redis: conn.redis,
    redisCluster: e.TXMON_REDIS_CLUSTER_NODES.length > 0 ? e.TXMON_REDIS_CLUSTER_NODES : null,
    keyPrefix: e.TXMON_KEY_PREFIX,
    topicNamespace: e.TXMON_TOPIC_NAMESPACE,
    topicReplication: {
      factor: e.TXMON_TOPIC_REPLICATION_FACTOR,
      minInsync:
        e.TXMON_TOPIC_MIN_INSYNC_REPLICAS ?? (e.TXMON_TOPIC_REPLICATION_FACTOR >= 3 ? e.TXMON_TOPIC_REPLICATION_FACTOR - 1 : 1),
    },
    ingest: {
      groupId: e.TXMON_INGEST_GROUP_ID,
      maxBytesPerPartition: e.TXMON_INGEST_MAX_BYTES_PER_PARTITION,
      sessionTimeoutMs: e.TXMON_INGEST_SESSION_TIMEOUT_MS,
      concurrency: e.TXMON_INGEST_CONCURRENCY,
      faultKillAt: e.TXMON_FAULT_KILL_AT
        ? {
            point: e.TXMON_FAULT_KILL_AT.split(':')[0] as 'after-mysql' | 'after-checkpoint' | 'after-commit',
            n: Number(e.TXMON_FAULT_KILL_AT.split(':')[1]),
          }
        : null,
      maxFutureSkewMs: e.TXMON_MAX_FUTURE_SKEW_MS,
      allowedLatenessMs: e.TXMON_ALLOWED_LATENESS_MS,
    },
    state: {
      windows: DEFAULT_WINDOWS,
      ttlSeconds: e.TXMON_STATE_TTL_SECONDS,
      cacheBytes: e.TXMON_STATE_CACHE_MB * 1024 * 1024,
      sharedRefreshMs: e.TXMON_STATE_SHARED_REFRESH_MS,
      checkpointMs: e.TXMON_STATE_CHECKPOINT_MS,
      sharedCheckpointMs: e.TXMON_STATE_SHARED_CHECKPOINT_MS,
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
      fairnessFactor: e.TXMON_FAIRNESS_FACTOR,
      fairnessMinAlerts: e.TXMON_FAIRNESS_MIN_ALERTS,
      promotionCheckDays: e.TXMON_PROMOTION_CHECK_DAYS,
      rolloutCheckMs: e.TXMON_ROLLOUT_CHECK_MS,
      rolloutMaxAlertRateFactor: e.TXMON_ROLLOUT_MAX_ALERT_RATE_FACTOR,
      rolloutMaxReviewQueueGrowth: e.TXMON_ROLLOUT_MAX_REVIEW_QUEUE_GROWTH,
      rolloutMaxScorePsi: e.TXMON_ROLLOUT_MAX_SCORE_PSI,
      rolloutMinDecisions: e.TXMON_ROLLOUT_MIN_DECISIONS,
      faultRolloutStep: e.TXMON_FAULT_ROLLOUT_STEP,
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
    ops: {
      targets: ops.targets,
      apiToken: ops.apiToken,
      logFiles: e.TXMON_OPS_LOG_FILES,
      logWarmupMs: e.TXMON_OPS_LOG_WARMUP_MS,
      brokerLag: e.TXMON_OPS_BROKER_LAG,
      scrapeMs: e.TXMON_OPS_SCRAPE_MS,
      windowMs: e.TXMON_OPS_WINDOW_MS,
      threshold: e.TXMON_OPS_THRESHOLD,
      persist: e.TXMON_OPS_PERSIST,
      minPoints: e.TXMON_OPS_MIN_POINTS,
      groupMs: e.TXMON_OPS_GROUP_MS,
      quietMs: e.TXMON_OPS_QUIET_MS,
      horizonMs: e.TXMON_OPS_HORIZON_MS,
      forecastPoints: e.TXMON_OPS_FORECAST_POINTS,
      metricsPort: e.TXMON_OPS_METRICS_PORT,
      slo: {
        lagRecords: e.TXMON_OPS_SLO_LAG_RECORDS,
        latencyP99Ms: e.TXMON_OPS_SLO_LATENCY_P99_MS,
        dlqPerSecond: e.TXMON_OPS_SLO_DLQ_PER_S,
      },
    },
    api: {
      host: e.TXMON_API_HOST,
      port: e.TXMON_API_PORT,
      rateLimitPerMinute: e.TXMON_API_RATE_LIMIT_PER_MINUTE,
      keyCacheMs: e.TXMON_API_KEY_CACHE_MS,
      readyMaxLag: e.TXMON_API_READY_MAX_LAG,
      sessionTtlMs: e.TXMON_API_SESSION_TTL_MS,
      sessionCookieSecure: e.TXMON_API_SESSION_COOKIE_SECURE,
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
    // issue 16: input caps
    inputCaps: { maxRecordBytes: e.TXMON_INGEST_MAX_RECORD_BYTES, maxFieldChars: e.TXMON_INGEST_MAX_FIELD_CHARS },
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

type Env = z.infer<typeof envSchema>;

/** Settings whose values are secrets: a config error names them but never prints their value. */
const SECRET_SETTINGS = /_(PASSWORD|TOKEN)$/;
const URL_SETTINGS = new Set(['TXMON_MYSQL_URL', 'TXMON_REDIS_URL', 'TXMON_REGISTRY_URL']);

/** What a config error may print of a setting's value. */
function printable(name: string, value: string): string {
  if (SECRET_SETTINGS.test(name)) return '[redacted]';
  return URL_SETTINGS.has(name) ? redactUrl(value) : value;
}

const bad = (setting: string, why: string) => new ConfigError(`invalid configuration: ${setting}: ${why}`);

/** TLS files of one dependency, read now; `enabled` says whether TLS was asked for at all. */
function tlsFiles(
  enabled: boolean,
  files: Readonly<Record<'ca' | 'cert' | 'key', [string, string | undefined]>>,
): TlsFiles | null {
  if (!enabled) return null;
  const out: { ca?: Buffer; cert?: Buffer; key?: Buffer } = {};
  for (const [k, [setting, path]] of Object.entries(files) as Array<['ca' | 'cert' | 'key', [string, string | undefined]]>)
    if (path !== undefined) out[k] = readSettingFile(setting, path);
  return out;
}

/**
 * What ops-watch scrapes: TXMON_OPS_TARGETS, or by default the two processors on this host at their
 * configured ports, and the API at its port when TXMON_OPS_API_TOKEN gives a key for its /metrics
 * (sre or admin). A target named `api` without the key is refused by ops-watch (requireOpsApiToken).
 */
function opsTargets(e: Env, picked: Readonly<Record<string, string>>) {
  const apiToken = secretSetting(picked, 'TXMON_OPS_API_TOKEN') ?? null;
  // Sent as a header: anything but printable ASCII would make every request fail with the value in
  // the error (a key file with a second line). Named, never printed.
  if (apiToken !== null && !/^[\x21-\x7e]+$/.test(apiToken.reveal()))
    throw bad('TXMON_OPS_API_TOKEN', 'must be one API key: printable ASCII without spaces or line breaks');
  const targets = (
    e.TXMON_OPS_TARGETS ?? [
      `ingest=http://127.0.0.1:${e.TXMON_METRICS_PORT}/metrics`,
      `reconcile=http://127.0.0.1:${e.TXMON_RECON_METRICS_PORT}/metrics`,
      ...(apiToken === null ? [] : [`api=http://127.0.0.1:${e.TXMON_API_PORT}/metrics`]),
    ]
  ).map((t) => {
    const at = t.indexOf('=');
    return { name: t.slice(0, at), url: t.slice(at + 1) };
  });
  return { targets, apiToken };
}

/**
 * ops-watch's start-up check (not every process's: the targets are shared configuration): a target
 * named `api` without TXMON_OPS_API_TOKEN would get a 401 at every scrape.
 */
export function requireOpsApiToken(ops: TxmonConfig['ops']): void {
  if (ops.apiToken === null && ops.targets.some((t) => t.name === 'api'))
    throw bad(
      'TXMON_OPS_TARGETS',
      'names an api target, whose /metrics needs a key: set TXMON_OPS_API_TOKEN(_FILE) to an sre or admin key',
    );
}

/**
 * ops-watch refuses a target named `kafka` while it reads the groups' lag from the broker
 * (TXMON_OPS_BROKER_LAG): that is the name the broker's figures are read as (ops/broker-lag.ts),
 * and two targets of one name would share their series.
 */
export function requireOpsTargetNames(ops: TxmonConfig['ops']): void {
  if (ops.brokerLag && ops.targets.some((t) => t.name === 'kafka'))
    throw bad(
      'TXMON_OPS_TARGETS',
      'names a target kafka, the name ops-watch reads the groups’ lag from the broker as: rename it, or set TXMON_OPS_BROKER_LAG=false',
    );
}

/** The password in a URL's user info, decoded; undefined when it has none. */
function urlPassword(url: string): string | undefined {
  const m = /^[a-z]+:\/\/[^:@/]*:([^@/]*)@/i.exec(url);
  return m?.[1] ? decodeURIComponent(m[1]) : undefined;
}

/**
 * Credentials and TLS of Kafka, the registry, MySQL and Redis, with the secrets read from their
 * files. Each contradiction (a value twice, a username without its password, TLS files with TLS
 * turned off) fails here, naming the settings.
 */
function connectionSettings(e: Env, picked: Readonly<Record<string, string>>, mysqlServerUrl: string) {
  const secret = (name: string) => secretSetting(picked, name);

  // Kafka: TLS files imply TLS; SASL needs all three of mechanism, username and password.
  const kafkaFiles = e.TXMON_KAFKA_SSL_CA_FILE ?? e.TXMON_KAFKA_SSL_CERT_FILE ?? e.TXMON_KAFKA_SSL_KEY_FILE;
  if (e.TXMON_KAFKA_SSL === false && kafkaFiles !== undefined)
    throw bad('TXMON_KAFKA_SSL', 'is false but TXMON_KAFKA_SSL_*_FILE is set');
  if ((e.TXMON_KAFKA_SSL_CERT_FILE === undefined) !== (e.TXMON_KAFKA_SSL_KEY_FILE === undefined))
    throw bad('TXMON_KAFKA_SSL_CERT_FILE', 'a client certificate needs TXMON_KAFKA_SSL_KEY_FILE too, and the other way round');
  const kafkaSsl = tlsFiles(e.TXMON_KAFKA_SSL === true || kafkaFiles !== undefined, {
    ca: ['TXMON_KAFKA_SSL_CA_FILE', e.TXMON_KAFKA_SSL_CA_FILE],
    cert: ['TXMON_KAFKA_SSL_CERT_FILE', e.TXMON_KAFKA_SSL_CERT_FILE],
    key: ['TXMON_KAFKA_SSL_KEY_FILE', e.TXMON_KAFKA_SSL_KEY_FILE],
  });
  const saslPassword = secret('TXMON_KAFKA_SASL_PASSWORD');
  const mechanism = e.TXMON_KAFKA_SASL_MECHANISM;
  if (mechanism === undefined && (e.TXMON_KAFKA_SASL_USERNAME !== undefined || saslPassword !== undefined))
    throw bad('TXMON_KAFKA_SASL_MECHANISM', 'must be set (plain, scram-sha-256 or scram-sha-512) with TXMON_KAFKA_SASL_USERNAME');
  if (mechanism !== undefined && (e.TXMON_KAFKA_SASL_USERNAME === undefined || saslPassword === undefined))
    throw bad(
      'TXMON_KAFKA_SASL_USERNAME',
      `SASL ${mechanism} needs TXMON_KAFKA_SASL_USERNAME and TXMON_KAFKA_SASL_PASSWORD(_FILE)`,
    );
  const kafkaSasl =
    mechanism !== undefined && e.TXMON_KAFKA_SASL_USERNAME !== undefined && saslPassword !== undefined
      ? { mechanism, username: e.TXMON_KAFKA_SASL_USERNAME, password: saslPassword }
      : null;

  // Registry: basic or bearer, not both.
  const registryPassword = secret('TXMON_REGISTRY_PASSWORD');
  const registryToken = secret('TXMON_REGISTRY_TOKEN');
  if ((e.TXMON_REGISTRY_USERNAME === undefined) !== (registryPassword === undefined))
    throw bad('TXMON_REGISTRY_USERNAME', 'basic auth needs TXMON_REGISTRY_USERNAME and TXMON_REGISTRY_PASSWORD(_FILE)');
  if (registryToken !== undefined && registryPassword !== undefined)
    throw bad('TXMON_REGISTRY_TOKEN', 'set either a bearer token or TXMON_REGISTRY_USERNAME/PASSWORD, not both');
  const registryAuth =
    registryToken !== undefined
      ? ({ kind: 'bearer', token: registryToken } as const)
      : e.TXMON_REGISTRY_USERNAME !== undefined && registryPassword !== undefined
        ? ({ kind: 'basic', username: e.TXMON_REGISTRY_USERNAME, password: registryPassword } as const)
        : null;

  // MySQL: the password in the URL or in TXMON_MYSQL_PASSWORD(_FILE), not both.
  let server: URL;
  try {
    server = new URL(mysqlServerUrl);
  } catch {
    throw bad('TXMON_MYSQL_URL', `cannot parse ${redactUrl(mysqlServerUrl)}`);
  }
  const mysqlSecret = secret('TXMON_MYSQL_PASSWORD');
  const inUrl = urlPassword(e.TXMON_MYSQL_URL);
  if (mysqlSecret !== undefined && inUrl !== undefined)
    throw bad(
      'TXMON_MYSQL_PASSWORD',
      'TXMON_MYSQL_URL carries a password too; keep it in one place (preferably TXMON_MYSQL_PASSWORD_FILE)',
    );
  if (e.TXMON_MYSQL_SSL === false && e.TXMON_MYSQL_SSL_CA_FILE !== undefined)
    throw bad('TXMON_MYSQL_SSL', 'is false but TXMON_MYSQL_SSL_CA_FILE is set');
  const rolePasswords: Partial<Record<MysqlRole, Secret>> = {};
  for (const role of ['ingest', 'reconcile', 'api', 'ops'] as const) {
    const p = secret(`TXMON_MYSQL_${role.toUpperCase()}_PASSWORD`);
    if (p !== undefined) rolePasswords[role] = p;
  }
  const mysql = {
    host: server.hostname.replace(/^\[|\]$/g, ''),
    port: server.port ? Number(server.port) : 3306,
    user: decodeURIComponent(server.username || 'root'),
    password: mysqlSecret ?? (inUrl !== undefined ? new Secret(inUrl) : undefined),
    ssl: tlsFiles(e.TXMON_MYSQL_SSL === true || e.TXMON_MYSQL_SSL_CA_FILE !== undefined, {
      ca: ['TXMON_MYSQL_SSL_CA_FILE', e.TXMON_MYSQL_SSL_CA_FILE],
      cert: ['', undefined],
      key: ['', undefined],
    }),
    userPrefix: e.TXMON_MYSQL_USER_PREFIX,
    rolePasswords,
  };

  // Redis: rediss:// or TXMON_REDIS_TLS turns TLS on (the only way for a cluster's node list).
  const redisSecret = secret('TXMON_REDIS_PASSWORD');
  if (redisSecret !== undefined && urlPassword(e.TXMON_REDIS_URL) !== undefined)
    throw bad('TXMON_REDIS_PASSWORD', 'TXMON_REDIS_URL carries a password too; keep it in one place');
  const rediss = e.TXMON_REDIS_URL.startsWith('rediss://');
  if (e.TXMON_REDIS_TLS === false && (rediss || e.TXMON_REDIS_TLS_CA_FILE !== undefined))
    throw bad('TXMON_REDIS_TLS', 'is false but TXMON_REDIS_URL is rediss:// or TXMON_REDIS_TLS_CA_FILE is set');
  const redisUrl = new URL(e.TXMON_REDIS_URL);
  const inRedisUrl = urlPassword(e.TXMON_REDIS_URL);
  const redis = {
    username: e.TXMON_REDIS_USERNAME ?? (redisUrl.username ? decodeURIComponent(redisUrl.username) : undefined),
    password: redisSecret ?? (inRedisUrl !== undefined ? new Secret(inRedisUrl) : undefined),
    tls: tlsFiles(rediss || e.TXMON_REDIS_TLS === true || e.TXMON_REDIS_TLS_CA_FILE !== undefined, {
      ca: ['TXMON_REDIS_TLS_CA_FILE', e.TXMON_REDIS_TLS_CA_FILE],
      cert: ['', undefined],
      key: ['', undefined],
    }),
  };
  return { kafkaSsl, kafkaSasl, registryAuth, mysql, redis };
}

/** The names of every environment variable txmon understands (for --help and docs). */
export const CONFIG_KEYS: readonly string[] = Object.freeze(Object.keys(envSchema.shape));

function deepFreeze<T>(value: T): T {
  // A Buffer (TLS material) cannot be frozen; nothing hands it out for writing.
  if (value && typeof value === 'object' && !Buffer.isBuffer(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
