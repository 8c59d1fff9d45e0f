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
import { retry } from './retry.ts';

/** Whether a heartbeat failure means this member must rejoin the group (its assignment may change). */
export function isRebalance(err: unknown): boolean {
  const type = (err as { type?: unknown }).type;
  return (
    type === 'REBALANCE_IN_PROGRESS' ||
    type === 'UNKNOWN_MEMBER_ID' ||
    type === 'ILLEGAL_GENERATION' ||
    type === 'FENCED_INSTANCE_ID'
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
