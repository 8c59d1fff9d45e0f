/**
 * Failures a process goes on through: a gauge not refreshed, a teardown step, a lock that expires
 * by itself. None of them loses or doubles anything (each entry below says why), but none is
 * silent either: every one is counted in `txmon_tolerated_failures_total{reason}` and logged. A
 * reason that repeats (a dependency down for minutes, a timer every ten seconds) is logged once,
 * then again at most once a minute with how many came in between; the counter counts them all. The
 * same reason with another context (another partition, another dependency) is another repeat.
 *
 * The reasons are a closed list, so the metric's labels stay few and each has one meaning.
 */
import { Counter, type Registry } from 'prom-client';
import { errorMessage } from './errors.ts';
import type { Logger } from './logger.ts';

/** Each reason, with what the process does about it (the second half of its log line). */
export const TOLERATED = {
  'teardown-step': 'a step of the stop failed; the rest of the stop goes on',
  'model-registry-read': 'the model registry was not read; the current models stay until the next poll',
  'rule-set-registry-read':
    'the rule-set registry was not read, or its active rule set does not compile here; the rules in force stay until the next poll',
  'partition-check': 'a partition’s windows were not checked on assignment; its first batch checks them',
  'state-rebuild': 'the state rebuild failed; the batch is retried and rebuilds again',
  'topic-partitions':
    'the topic’s partition count was not read; shared entities are read from Redis at every refresh until it is',
  'checkpoint-on-stop': 'the windows were not checkpointed at the stop; the partition’s next owner replays them',
  'commits-record': 'the committed offsets were not recorded in Redis; the next start reads them from Kafka',
  'recon-gauges': 'the reconciliation gauges were not refreshed; they keep their last values until the next refresh',
  'confirm-published':
    'exception events were not confirmed published from the committed offsets; the next batch or start confirms them',
  'mark-published': 'exception events were not marked published; the partition’s next batch marks them',
  'producer-close': 'a transactional producer did not close cleanly; it is dropped either way',
  'skipped-commit': 'the offset past records kafkajs skipped (transaction markers) was not committed; the next batch moves it',
  'rebuild-lock-release': 'the state rebuild lock was not released; it expires by its TTL',
  'drift-report': 'the model drift gauges were not updated; the next interval updates them',
  'rollout-check': 'the running rollout’s guardrails were not checked; the next interval checks them',
  'api-dependency-at-start': 'a dependency did not answer when the API started; readiness reports it until it does',
  'ops-alerts-write': 'ops alerts were not written to MySQL or the topic; they are kept and written again next round',
} as const;

export type ToleratedReason = keyof typeof TOLERATED;

/** Counts and logs one tolerated failure. `context` joins the log line (ids, never records). */
export type Tolerate = (reason: ToleratedReason, err: unknown, context?: Record<string, unknown>) => void;

/** At most one log line per reason in this long; the ones between are counted and reported with the next. */
const QUIET_MS = 60_000;

export function createTolerate(registry: Registry, log: Logger, opts: { now?: () => number; quietMs?: number } = {}): Tolerate {
  const now = opts.now ?? Date.now;
  const quietMs = opts.quietMs ?? QUIET_MS;
  const counter =
    (registry.getSingleMetric('txmon_tolerated_failures_total') as Counter<'reason'> | undefined) ??
    new Counter({
      name: 'txmon_tolerated_failures_total',
      help: 'Failures the process went on through, by reason (platform/tolerated.ts says what each means).',
      labelNames: ['reason'],
      registers: [registry],
    });
  for (const reason of Object.keys(TOLERATED)) counter.inc({ reason }, 0);
  const last = new Map<string, { at: number; since: number }>();
  return (reason, err, context) => {
    counter.inc({ reason });
    const t = now();
    const key = context === undefined ? reason : `${reason} ${JSON.stringify(context)}`;
    const seen = last.get(key);
    if (seen && t - seen.at < quietMs) {
      seen.since++;
      return;
    }
    last.set(key, { at: t, since: 0 });
    const more = seen && seen.since > 0 ? ` (${seen.since} more since the last report)` : '';
    log.warn({ ...context, reason, err }, `${errorMessage(err)}: ${TOLERATED[reason]}${more}`);
  };
}

/** For code a processor may run without metrics (CLI commands, tests): logs every failure, counts none. */
export function logOnlyTolerate(log: Logger): Tolerate {
  return (reason, err, context) => log.warn({ ...context, reason, err }, `${errorMessage(err)}: ${TOLERATED[reason]}`);
}
