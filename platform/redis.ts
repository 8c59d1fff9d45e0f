/** Redis connection with txmon's Lua scripts registered as commands. */
import { readFileSync } from 'node:fs';
import { Redis, type ChainableCommander } from 'ioredis';
import type { TxmonConfig } from '../config/config.ts';

const DEDUP_LUA = readFileSync(new URL('../processors/ingest/lua/dedup.lua', import.meta.url), 'utf8');

/** Lua status codes of dedup.lua. */
export const DedupStatus = { NEW: 0, REPLAY: 1, DUPLICATE: 2 } as const;
export type DedupStatusCode = (typeof DedupStatus)[keyof typeof DedupStatus];

export interface TxmonRedis extends Redis {
  /** dedup.lua, see its header: numkeys, keys..., ttl, positions... → flat [status, firstSeen, ...]. */
  txmonDedupV1(numKeys: number, ...keysTtlPositions: Array<string | number>): Promise<Array<number | string>>;
}

export interface TxmonPipeline extends ChainableCommander {
  txmonDedupV1(numKeys: number, ...keysTtlPositions: Array<string | number>): TxmonPipeline;
}

/** Arguments of one dedup.lua call for one account's transactions. */
export function dedupArgs(
  keys: readonly string[],
  positions: readonly string[],
  ttlSeconds: number,
): [number, ...Array<string | number>] {
  return [keys.length, ...keys, ttlSeconds, ...positions];
}

/**
 * A client that fails commands fast while disconnected (so the processor pauses and retries the
 * whole batch with backoff) and reconnects by itself.
 */
export function createRedis(cfg: TxmonConfig): TxmonRedis {
  const redis = new Redis(cfg.redisUrl, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    connectTimeout: 5_000,
    // A hung server must fail the batch (and be retried), not stall it forever.
    commandTimeout: 15_000,
    retryStrategy: (times) => Math.min(200 * times, 2_000),
  });
  // Versioned name: a changed contract gets a new command name. The key count varies per call.
  redis.defineCommand('txmonDedupV1', { lua: DEDUP_LUA });
  // Errors surface on commands; the client-level event only needs a listener so it is not thrown.
  redis.on('error', () => {});
  return redis as TxmonRedis;
}
