/** What ops-watch watches in txmon's own /metrics, which way each metric's move is trouble, and the engine's parameters from the config. */
import type { TxmonConfig } from '../config/config.ts';
import type { WatchParams } from './watch.ts';
import { GROUP_LAG_METRIC } from './broker-lag.ts';

/** The metrics watched for anomalies: throughput, lag, dead letters, latency, retries and errors, drift. */
export const WATCHED_METRICS = [
  'txmon_ingest_records_total',
  'txmon_ingest_consumer_lag_records',
  'txmon_ingest_dead_letters_total',
  'txmon_ingest_batch_duration_seconds',
  'txmon_ingest_record_to_commit_seconds',
  'txmon_ingest_retries_total',
  'txmon_recon_records_total',
  'txmon_recon_consumer_lag',
  // Not exported by a processor: the groups' lag as ops-watch reads it from the broker (ops/broker-lag.ts).
  'txmon_consumer_group_lag_records',
  'txmon_recon_dead_letters_total',
  'txmon_recon_batch_duration_seconds',
  'txmon_recon_batch_retries_total',
  'txmon_tolerated_failures_total',
  'txmon_model_score_psi',
  // As shares of its `decision` label (SHARE_BY), not rates: the mix of decisions, which a surge of
  // traffic leaves as it is and a rule set that sends everything to review does not.
  'txmon_detection_decisions_total',
  'txmon_api_request_duration_seconds',
  // Not exported by a processor: ops-watch's own count of each log template's lines (ops/log-watch.ts).
  'txmon_log_template_lines',
] as const;

/**
 * Counters watched as the share of each value of a label among all of them (ops/exposition.ts
 * derive), not as rates: by metric, the label.
 */
export const SHARE_BY: Readonly<Record<string, string>> = {
  txmon_detection_decisions_total: 'decision',
};

/** SHARE_BY as ScrapeReader and resample take it. */
export const shareBy = (name: string): string | undefined => SHARE_BY[name];

/** Which way each watched metric's move is trouble (the rest: both ways). */
export const BAD_DIRECTION: Readonly<Record<string, 'up' | 'down'>> = {
  txmon_ingest_records_total: 'down',
  // More records dead-lettered or re-sent is the trouble, not fewer.
  'txmon_ingest_records_total{outcome="dead_lettered"}': 'up',
  'txmon_ingest_records_total{outcome="duplicate"}': 'up',
  txmon_recon_records_total: 'down',
  txmon_ingest_consumer_lag_records: 'up',
  txmon_recon_consumer_lag: 'up',
  [GROUP_LAG_METRIC]: 'up',
  txmon_ingest_dead_letters_total: 'up',
  txmon_recon_dead_letters_total: 'up',
  txmon_ingest_batch_duration_seconds: 'up',
  txmon_ingest_record_to_commit_seconds: 'up',
  txmon_recon_batch_duration_seconds: 'up',
  txmon_ingest_retries_total: 'up',
  txmon_recon_batch_retries_total: 'up',
  txmon_tolerated_failures_total: 'up',
  txmon_model_score_psi: 'up',
  // More alerts (REVIEW, BLOCK) in the mix is the trouble, fewer ALLOW the same news.
  'txmon_detection_decisions_total{decision="ALLOW"}': 'down',
  txmon_detection_decisions_total: 'up',
  txmon_api_request_duration_seconds: 'up',
  txmon_log_template_lines: 'up',
};

/** The engine's parameters from the config. */
export function watchParams(cfg: TxmonConfig): WatchParams {
  const o = cfg.ops;
  return {
    detector: {
      method: 'robust',
      windowMs: o.windowMs,
      threshold: o.threshold,
      persist: o.persist,
      minPoints: o.minPoints,
      minScale: 1e-9,
    },
    incidents: { groupMs: o.groupMs, quietMs: o.quietMs },
    metrics: WATCHED_METRICS,
    bad: BAD_DIRECTION,
    shares: SHARE_BY,
    slos: [
      { metric: 'txmon_ingest_consumer_lag_records', as: 'gauge', limit: o.slo.lagRecords },
      { metric: 'txmon_recon_consumer_lag', as: 'gauge', limit: o.slo.lagRecords },
      { metric: GROUP_LAG_METRIC, as: 'gauge', limit: o.slo.lagRecords },
      { metric: 'txmon_ingest_record_to_commit_seconds', as: 'p99', limit: o.slo.latencyP99Ms / 1_000 },
      { metric: 'txmon_ingest_dead_letters_total', as: 'rate', limit: o.slo.dlqPerSecond },
      { metric: 'txmon_recon_dead_letters_total', as: 'rate', limit: o.slo.dlqPerSecond },
    ],
    horizonMs: o.horizonMs,
    scrapeMs: o.scrapeMs,
    forecastPoints: o.forecastPoints,
  };
}
