/**
 * The retry loop of a processor's batch: attempt the whole batch until it succeeds, with backoff,
 * heartbeating the group between attempts, tracking which dependency is failing (for readiness and
 * metrics), and giving up when the consumer stops or the group rebalances (the partition's next
 * owner replays the batch).
 */
import type { EachBatchPayload } from 'kafkajs';
import type { Counter, Gauge } from 'prom-client';
import { DependencyError, errorMessage, isRetriable } from './errors.ts';
import type { Logger } from './logger.ts';
import { retry, sleep } from './retry.ts';
import { PartitionFencedError } from './transactional-output.ts';

/** kafkajs's heartbeat interval for txmon's consumers (batch-consumer.ts). */
export const HEARTBEAT_INTERVAL_MS = 3_000;

/**
 * A fenced partition whose owner could not be confirmed for this long is given up (the batch ends
 * and kafkajs joins the group again): a member whose heartbeats failed that long has been removed by
 * a group whose session timeout is at most this (kafkajs's default, txmon's too). Giving up is safe
 * either way: the partition's owner, this member after the join or another, replays the batch.
 */
export const FENCED_GIVE_UP_MS = 30_000;

/** Where a fenced partition's owner is asked about and confirmed (TransactionalOutput). */
export interface PartitionOwnership {
  fencedSince(topic: string, partition: number): number | undefined;
  ownershipConfirmed(topic: string, partition: number): void;
}

/**
 * Whether this member still owns its assignment, asked after its producer for a partition was
 * fenced: 'owner' once a heartbeat sent after the fencing succeeded (the member is in the group at
 * its generation, so the assignment it consumes is current), 'rebalance' when the group answered that
 * it moved on, 'unknown' when the coordinator could not be reached. kafkajs sends a heartbeat only
 * when its interval has passed since the last one it sent, and a call within it resolves at once;
 * two calls an interval apart make sure a request went out after the fencing.
 */
export async function proveOwnership(
  heartbeat: () => Promise<void>,
  intervalMs: number,
  wait: (ms: number) => Promise<void> = sleep,
): Promise<'owner' | 'rebalance' | 'unknown'> {
  try {
    await heartbeat();
    await wait(intervalMs + 100);
    await heartbeat();
    return 'owner';
  } catch (err) {
    return isRebalance(err) ? 'rebalance' : 'unknown';
  }
}

/** Whether a heartbeat failure means this member must rejoin the group (its assignment may change). */
export function isRebalance(err: unknown): boolean {
  const type = (err as { type?: unknown }).type;
  return (
    type === 'REBALANCE_IN_PROGRESS' ||
    type === 'UNKNOWN_MEMBER_ID' ||
    type === 'ILLEGAL_GENERATION' ||
    type === 'FENCED_INSTANCE_ID' ||
    // The coordinator moved (a broker failed): kafkajs finds the new one only by joining again.
    type === 'NOT_COORDINATOR_FOR_GROUP' ||
    type === 'NOT_COORDINATOR'
  );
}

/** Runs a step, tagging its retriable failures with the dependency that failed. */
export async function step<T>(dependency: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof DependencyError || !isRetriable(err)) throw err;
    throw new DependencyError(dependency, errorMessage(err), err);
  }
}

export interface BatchRetryContext {
  payload: Pick<EachBatchPayload, 'heartbeat' | 'isRunning' | 'isStale'>;
  /** Identifies the batch in log lines. */
  where: { topic: string; partition: number; firstOffset: string | null };
  maxMs: number;
  logger: Logger;
  /** Dependencies whose last call failed; cleared once the batch succeeds. */
  failing: Set<string>;
  metrics: { dependencyUp: Gauge<'dependency'>; retries: Counter<'dependency'> };
  /** The processor's output: a fenced partition is retried only once the group confirms this member owns it. */
  ownership?: PartitionOwnership;
  /** The consumer's heartbeat interval (HEARTBEAT_INTERVAL_MS). */
  heartbeatIntervalMs?: number;
  /** How long a fenced partition's owner may stay unconfirmed before the batch is given up (FENCED_GIVE_UP_MS). */
  fencedGiveUpMs?: number;
}

/** Runs `attempt` until it succeeds; throws when the consumer stops, the group rebalances, or the error is not retriable. */
export async function retryBatch<T>(attempt: () => Promise<T>, ctx: BatchRetryContext): Promise<T> {
  const { payload, metrics, logger, failing } = ctx;
  let rebalancing = false;
  const result = await retry(attempt, {
    maxMs: ctx.maxMs,
    shouldContinue: () => payload.isRunning() && !payload.isStale() && !rebalancing,
    onRetry: async (err, n, delayMs) => {
      const dependency = err instanceof DependencyError ? err.dependency : 'unknown';
      failing.add(dependency);
      metrics.dependencyUp.set({ dependency }, 0);
      metrics.retries.inc({ dependency });
      logger.warn({ dependency, attempt: n, delayMs, ...ctx.where }, `batch paused: ${errorMessage(err)}; retrying`);
      const since = err instanceof PartitionFencedError ? ctx.ownership?.fencedSince(err.topic, err.partition) : undefined;
      if (err instanceof PartitionFencedError && ctx.ownership !== undefined && since !== undefined) {
        // Another instance took the partition up: retry only if the group says this member still has it.
        const answer = await proveOwnership(payload.heartbeat, ctx.heartbeatIntervalMs ?? HEARTBEAT_INTERVAL_MS);
        logger.warn(
          { ...ctx.where, answer },
          'the partition’s producer was fenced; asked the group whether this member still owns it',
        );
        if (answer === 'rebalance' || (answer === 'unknown' && Date.now() - since > (ctx.fencedGiveUpMs ?? FENCED_GIVE_UP_MS)))
          rebalancing = true;
        else if (answer === 'owner') ctx.ownership.ownershipConfirmed(err.topic, err.partition);
        return;
      }
      try {
        await payload.heartbeat();
      } catch (hbErr) {
        if (isRebalance(hbErr)) rebalancing = true;
        else logger.warn({ err: hbErr }, 'heartbeat failed while retrying');
      }
    },
  });
  for (const d of failing) metrics.dependencyUp.set({ dependency: d }, 1);
  if (failing.size > 0) logger.info({ recovered: [...failing] }, 'dependencies back; batch done');
  failing.clear();
  return result;
}
