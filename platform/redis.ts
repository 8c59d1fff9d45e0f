/** Redis connection with txmon's Lua scripts registered as commands. */
import { readFileSync } from 'node:fs';
import { Cluster, Redis, type ChainableCommander, type RedisOptions } from 'ioredis';
import type { TxmonConfig } from '../config/config.ts';
import { redactUrl } from '../config/secrets.ts';
import { DependencyError, errorMessage } from './errors.ts';

/** The scripts of the window state (state/lua). */
const STATE_LUA_DIR = new URL('../state/lua/', import.meta.url);

/**
 * A script's source with its `-- @include <file>` lines replaced by that file (shared Lua pieces,
 * as BullMQ does at build time; here at load time), from state/lua or `dir`.
 */
export function loadLua(name: string, dir: URL = STATE_LUA_DIR): string {
  return readFileSync(new URL(name, dir), 'utf8').replace(/^-- @include (\S+)$/gm, (_, file: string) =>
    readFileSync(new URL(file, dir), 'utf8'),
  );
}

export type ScriptArgs = [numKeys: number, ...keysAndArgs: Array<string | number | Buffer>];

/** progress.lua's arguments (see the reply on TxmonRedis.txmonProgressV4). */
export type ProgressArgs = [numKeys: 1, marker: string, field: string, nextOffset: string, floor: string, committed?: string];

export interface TxmonRedis extends Redis {
  /**
   * progress.lua: 1, marker, field, nextOffset ('' records nothing), floor ('' none), [committed] →
   * [1, generation, published] | [0] (missing) | [2, generation, stored] (lost writes).
   */
  txmonProgressV4(...args: ProgressArgs): Promise<Array<number | string>>;
  /** state/lua/checkpoint.lua (see its header) → flat [written (0|1), fence, ...] per source. */
  txmonCheckpointV1(...args: ScriptArgs): Promise<Array<number | string>>;
}

export interface TxmonPipeline extends ChainableCommander {
  txmonProgressV4(...args: ProgressArgs): TxmonPipeline;
  txmonCheckpointV1(...args: ScriptArgs): TxmonPipeline;
}

/**
 * Registers txmon's scripts on a client (versioned names: a changed contract or state layout gets a
 * new name). The writing scripts reply with msgpack, so they are called through their Buffer form.
 */
export function defineScripts(redis: Redis): TxmonRedis {
  redis.defineCommand('txmonProgressV4', { lua: loadLua('progress.lua') });
  redis.defineCommand('txmonCheckpointV1', { lua: loadLua('checkpoint.lua') });
  return redis as TxmonRedis;
}

/**
 * Authentication (AUTH with an ACL user, or the default user's password) and TLS of the configured
 * Redis, for one Redis and for each node of a cluster. The server's certificate is always verified,
 * against the system's CAs or TXMON_REDIS_TLS_CA_FILE.
 */
export function redisSecurity(cfg: TxmonConfig): Pick<RedisOptions, 'username' | 'password' | 'tls'> {
  const { username, password, tls } = cfg.redis;
  return {
    username,
    password: password?.reveal(),
    tls: tls === null ? undefined : { ca: tls.ca, rejectUnauthorized: true },
  };
}

/**
 * The connection options of TXMON_REDIS_URL (host, port, db) with redisSecurity. Built here rather
 * than by handing ioredis the URL: for a URL ioredis lets the URL's own `rediss:` (TLS with no CA)
 * win over the options, so the configured CA would be ignored.
 */
export function redisConnectionOptions(cfg: TxmonConfig): RedisOptions {
  const url = new URL(cfg.redisUrl);
  const db = url.pathname.replace(/^\//, '');
  return {
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port ? Number(url.port) : 6379,
    db: db === '' ? 0 : Number(db),
    ...redisSecurity(cfg),
  };
}

/**
 * A client that fails commands fast while disconnected (so the processor pauses and retries the
 * whole batch with backoff) and reconnects by itself.
 */
export function createRedis(cfg: TxmonConfig): TxmonRedis {
  const redis = new Redis({
    ...redisConnectionOptions(cfg),
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    connectTimeout: 5_000,
    // A hung server must fail the batch (and be retried), not stall it forever.
    commandTimeout: 15_000,
    retryStrategy: (times) => Math.min(200 * times, 2_000),
  });
  // Errors surface on commands; the client-level event only needs a listener so it is not thrown.
  redis.on('error', () => {});
  return defineScripts(redis);
}

/**
 * The state Redis: the single Redis at TXMON_REDIS_URL, or the Redis Cluster of
 * TXMON_REDIS_CLUSTER_NODES (same fail-fast behaviour; scripts run through per-node pipelines, see
 * redis-pipelines.ts). Call connect() before use.
 */
export function createStateRedis(cfg: TxmonConfig): TxmonRedis | Cluster {
  if (cfg.redisCluster === null) return createRedis(cfg);
  const cluster = new Cluster(
    cfg.redisCluster.map((n) => {
      const i = n.lastIndexOf(':');
      return { host: n.slice(0, i), port: Number(n.slice(i + 1)) };
    }),
    {
      lazyConnect: true,
      enableOfflineQueue: false,
      clusterRetryStrategy: (times) => Math.min(200 * times, 2_000),
      // Batches go to the masters' own clients (redis-pipelines.ts), never through the cluster
      // client, so ioredis sees no MOVED or lost connection of its own: reconnect lost nodes and
      // re-read the slot map on a timer (a restarted master, a failover, a moved slot).
      clusterNodeRetryStrategy: (times) => Math.min(200 * times, 2_000),
      slotsRefreshInterval: 2_000,
      redisOptions: { ...redisSecurity(cfg), maxRetriesPerRequest: 1, connectTimeout: 5_000, commandTimeout: 15_000 },
    },
  );
  cluster.on('error', () => {});
  return cluster;
}

/**
 * Connects once, for a command that must finish: on failure the client is disconnected (else its
 * reconnect loop would keep the process alive forever) and a DependencyError says where it failed,
 * with the likely cause when TLS and the server disagree.
 */
export async function connectOnce(redis: Redis | Cluster, cfg: TxmonConfig): Promise<void> {
  // connect() itself rejects with "Connection is closed."; the cause (a certificate the CA did not
  // sign, a refused connection) only comes as an 'error' event.
  let cause: unknown;
  const onError = (err: unknown) => (cause = err);
  redis.on('error', onError).on('node error', onError);
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    const where = cfg.redisCluster ? `the Redis Cluster of ${cfg.redisCluster.join(',')}` : redactUrl(cfg.redisUrl);
    const msg = cause === undefined || cause === err ? errorMessage(err) : `${errorMessage(cause)} (${errorMessage(err)})`;
    const tlsHint =
      cfg.redis.tls !== null && /closed|wrong version|EPROTO|ECONNRESET|timed? ?out/i.test(msg)
        ? ' (TLS is on: TXMON_REDIS_URL is rediss:// or TXMON_REDIS_TLS is set; does the server listen with TLS on that port?)'
        : '';
    throw new DependencyError('redis', `cannot connect to ${where}: ${msg}${tlsHint}`, cause ?? err);
  } finally {
    redis.off('error', onError).off('node error', onError);
  }
}
