/**
 * kafkajs asks a broker for the coordinator (FindCoordinator) before every request that goes to
 * one, and caches nothing in a producer: a transaction of one produce and its offsets is nine
 * requests, four of them FindCoordinator (before AddPartitionsToTxn, AddOffsetsToTxn,
 * TxnOffsetCommit and EndTxn), each a round trip the batch waits for and a request the broker
 * spends its CPU on (docs/performance.md, "What a transaction costs in requests"). This keeps each
 * answer for `COORDINATOR_CACHE_MS` per kafkajs cluster (kafkajs builds one per producer, consumer
 * and admin client), so a partition's transactions ask once a second at most.
 *
 * A coordinator only moves when a broker fails or partitions are reassigned. A request sent to the
 * old one then fails (NOT_COORDINATOR, or the connection): the ingest's transaction is aborted, its
 * producer dropped with its cluster and cache (platform/transactional-output.ts), and the batch's
 * retry asks afresh; a consumer's or admin's kafkajs retry asks again once the second has passed. A
 * failed look-up is never kept.
 */
import { createRequire } from 'node:module';

/** How long a coordinator's answer is reused, ms. */
export const COORDINATOR_CACHE_MS = 1_000;

/** The look-up kafkajs's Cluster makes (`findGroupCoordinatorMetadata`), as far as the cache reads it. */
type Lookup = (this: object, args: { groupId: string; coordinatorType?: number }) => Promise<unknown>;

/**
 * `lookup` with its answers kept per `this` (a kafkajs cluster) and per coordinator key for `ttlMs`;
 * concurrent asks for one key share one request; a rejected answer is dropped at once. Pure apart
 * from `now`: the unit tests drive it with a fake look-up.
 */
export function cachedLookups(lookup: Lookup, ttlMs: number, now: () => number = Date.now): Lookup {
  const caches = new WeakMap<object, Map<string, { until: number; answer: Promise<unknown> }>>();
  return function (this: object, args) {
    let cache = caches.get(this);
    if (cache === undefined) caches.set(this, (cache = new Map()));
    const key = `${args.coordinatorType ?? 0}\u0000${args.groupId}`;
    const hit = cache.get(key);
    const t = now();
    if (hit !== undefined && hit.until > t) return hit.answer;
    const answer = lookup.call(this, args);
    const entry = { until: t + ttlMs, answer };
    cache.set(key, entry);
    answer.catch(() => {
      if (cache.get(key) === entry) cache.delete(key);
    });
    return answer;
  };
}

let installed = false;

/**
 * Installs the cache on kafkajs's Cluster (once per process; `createKafka` calls it). Throws, naming
 * this file, if kafkajs no longer has the method it wraps (a kafkajs upgrade must look here again;
 * `tests/integration/transactional-output.test.ts` counts the requests against the broker).
 */
export function cacheCoordinatorLookups(): void {
  if (installed) return;
  const require = createRequire(import.meta.url);
  const Cluster = require('kafkajs/src/cluster/index.js') as { prototype: { findGroupCoordinatorMetadata?: Lookup } };
  const original = Cluster.prototype.findGroupCoordinatorMetadata;
  if (typeof original !== 'function')
    throw new Error(
      'kafkajs has no Cluster.findGroupCoordinatorMetadata any more: platform/kafka-coordinators.ts must follow the upgrade',
    );
  Cluster.prototype.findGroupCoordinatorMetadata = cachedLookups(original, COORDINATOR_CACHE_MS);
  installed = true;
}
