/** Redis connection with txmon's Lua scripts registered as commands. */
import { readFileSync } from 'node:fs';
import { Redis, type ChainableCommander } from 'ioredis';
import type { TxmonConfig } from '../config/config.ts';

const LUA_DIR = new URL('../processors/ingest/lua/', import.meta.url);

/**
 * A script's source with its `-- @include <file>` lines replaced by that file (shared Lua pieces,
 * as BullMQ does at build time; here at load time).
 */
export function loadLua(name: string): string {
  return readFileSync(new URL(name, LUA_DIR), 'utf8').replace(/^-- @include (\S+)$/gm, (_, file: string) =>
    readFileSync(new URL(file, LUA_DIR), 'utf8'),
  );
}

/** Status codes of account-state.lua. */
export const AccountStatus = { NEW: 0, REPLAY: 1, DUPLICATE: 2 } as const;

type ScriptArgs = [numKeys: number, ...keysAndArgs: Array<string | number>];

export interface TxmonRedis extends Redis {
  /** account-state.lua (see its header) → flat [status, firstSeen, features, ...]. */
  txmonAccountStateV1(...args: ScriptArgs): Promise<Array<number | string>>;
  /** entity-state.lua (see its header) → flat [status, features, ...]. */
  txmonEntityStateV1(...args: ScriptArgs): Promise<Array<number | string>>;
  /** entity-read.lua: 1, stateKey, windowSpec → JSON [head, per window c s d e, n, mean, std]. */
  txmonEntityReadV1(numKeys: 1, key: string, windowSpec: string): Promise<string>;
}

export interface TxmonPipeline extends ChainableCommander {
  txmonAccountStateV1(...args: ScriptArgs): TxmonPipeline;
  txmonEntityStateV1(...args: ScriptArgs): TxmonPipeline;
  txmonEntityReadV1(numKeys: 1, key: string, windowSpec: string): TxmonPipeline;
}

/** Registers txmon's scripts on a client (versioned names: a changed contract gets a new name). */
export function defineScripts(redis: Redis): TxmonRedis {
  redis.defineCommand('txmonAccountStateV1', { lua: loadLua('account-state.lua') });
  redis.defineCommand('txmonEntityStateV1', { lua: loadLua('entity-state.lua') });
  redis.defineCommand('txmonEntityReadV1', { lua: loadLua('entity-read.lua') });
  return redis as TxmonRedis;
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
  // Errors surface on commands; the client-level event only needs a listener so it is not thrown.
  redis.on('error', () => {});
  return defineScripts(redis);
}
