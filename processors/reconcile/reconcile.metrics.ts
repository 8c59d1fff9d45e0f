/** Prometheus metrics of the reconcile processor. Labels are low-cardinality: topic, outcome, status, dependency. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** One registry per processor instance (tests run several in one process). */
export function createReconMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'txmon_process_' });
  const registers = [registry];
  return {
    registry,
    records: new Counter({
      name: 'txmon_recon_records_total',
      help: 'Records read by the reconcile processor, by topic and outcome: stored, replayed, resent (same line again), conflict, dead_lettered, not_settled (a type that expects no settlement), invalid_skipped (a bad transaction; the ingest processor dead-letters it).',
      labelNames: ['topic', 'outcome'],
      registers,
    }),
    deadLettered: new Counter({
      name: 'txmon_recon_dead_letters_total',
      help: 'Settlement records sent to the settlements dead-letter topic, by error class.',
      labelNames: ['error_class'],
      registers,
    }),
    changes: new Counter({
      name: 'txmon_recon_group_changes_total',
      help: 'Reconciliation groups whose stored result changed, by new status.',
      labelNames: ['status'],
      registers,
    }),
    published: new Counter({
      name: 'txmon_recon_exceptions_published_total',
      help: 'Events written to the recon-exceptions topic (in the batch Kafka transactions).',
      registers,
    }),
    groups: new Gauge({
      name: 'txmon_recon_groups',
      help: 'Reconciliation groups by current status (unresolved ones; refreshed periodically from MySQL).',
      labelNames: ['status'],
      registers,
    }),
    matchedRatio: new Gauge({
      name: 'txmon_recon_matched_ratio',
      help: 'Share of decided groups (not PENDING) that are MATCHED or LATE_MATCH.',
      registers,
    }),
    oldestOpenException: new Gauge({
      name: 'txmon_recon_oldest_open_exception_age_seconds',
      help: 'Event time from the oldest unresolved exception’s deadline to the watermark (0 when none is open).',
      registers,
    }),
    watermark: new Gauge({
      name: 'txmon_recon_watermark_seconds',
      help: 'The reconciliation watermark (event time, epoch seconds): latest settlement event time less the allowed lateness.',
      registers,
    }),
    batchDuration: new Histogram({
      name: 'txmon_recon_batch_duration_seconds',
      help: 'Wall time of a reconcile batch, from receipt to Kafka commit (retries included).',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    retries: new Counter({
      name: 'txmon_recon_batch_retries_total',
      help: 'Batch attempts retried, by the dependency that failed.',
      labelNames: ['dependency'],
      registers,
    }),
    dependencyUp: new Gauge({
      name: 'txmon_recon_dependency_up',
      help: '1 when the dependency answered the last call, 0 while batches are paused on it.',
      labelNames: ['dependency'],
      registers,
    }),
    lag: new Gauge({
      name: 'txmon_recon_consumer_lag',
      help: 'Records behind the high watermark after the last batch, per topic and partition.',
      labelNames: ['topic', 'partition'],
      registers,
    }),
  };
}

export type ReconMetrics = ReturnType<typeof createReconMetrics>;
