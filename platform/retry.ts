/** Retry with capped exponential backoff and jitter; only retriable errors are retried. */
import { isRetriable } from './errors.ts';

export interface RetryOptions {
  /** First delay in ms. */
  initialMs?: number;
  /** Delay cap in ms. */
  maxMs: number;
  /** Keep trying while this says true; when it turns false the last error is thrown. */
  shouldContinue: () => boolean;
  /** Called before each wait, e.g. to log, count and heartbeat. */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void | Promise<void>;
  /** Random source in [0,1) for jitter (tests pass a fixed one). */
  random?: () => number;
  /** Sleep function (tests pass a fast one). */
  sleep?: (ms: number) => Promise<void>;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The delay before retry `attempt` (1-based): min(max, initial * 2^(attempt-1)) scaled by jitter in [0.5, 1]. */
export function backoffDelay(attempt: number, initialMs: number, maxMs: number, random: () => number): number {
  const exp = Math.min(maxMs, initialMs * 2 ** Math.min(attempt - 1, 30));
  return Math.round(exp * (0.5 + random() / 2));
}

/** Runs `fn` until it succeeds, a non-retriable error is thrown, or `shouldContinue` turns false. */
export async function retry<T>(fn: () => Promise<T>, opts: RetryOptions): Promise<T> {
  const initial = opts.initialMs ?? 200;
  const random = opts.random ?? Math.random;
  const wait = opts.sleep ?? sleep;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isRetriable(err) || !opts.shouldContinue()) throw err;
      const delay = backoffDelay(attempt, initial, opts.maxMs, random);
      await opts.onRetry?.(err, attempt, delay);
      await wait(delay);
      if (!opts.shouldContinue()) throw err;
    }
  }
}
