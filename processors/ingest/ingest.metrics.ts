/** Prometheus metrics of the ingest processor. Labels are low-cardinality: topic, partition, outcome, dependency. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { HotHistogram } from '../../platform/histogram.ts';

/** One registry per processor instance (tests run several in one process). */
export function createIngestMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'txmon_process_' });
  const registers = [registry];
  return {
    registry,
    consumed: new Counter({
      name: 'txmon_ingest_records_consumed_total',
      help: 'Records read from the transactions topic.',
      labelNames: ['topic'],
      registers,
    }),
    outcomes: new Counter({
      name: 'txmon_ingest_records_total',
      help: 'Records by outcome: valid (new), replayed (re-read after a crash), duplicate, dead_lettered.',
      labelNames: ['outcome'],
      registers,
    }),
    deadLettered: new Counter({
      name: 'txmon_ingest_dead_letters_total',
      help: 'Records sent to the dead-letter topic, by error class.',
      labelNames: ['error_class'],
      registers,
    }),
    late: new Counter({
      name: 'txmon_ingest_late_events_total',
      help: 'New transactions older than their partition watermark (stored, flagged late, kept out of windows).',
      registers,
    }),
    enrichmentMissing: new Counter({
      name: 'txmon_ingest_enrichment_missing_total',
      help: 'New transactions whose reference data was unknown, by what was missing (their features are null).',
      labelNames: ['missing'],
      registers,
    }),
    stateRebuilds: new Counter({
      name: 'txmon_state_rebuilds_total',
      help: 'Times this processor found the Redis state lost (marker missing) and rebuilt it from MySQL.',
      registers,
    }),
    stateRestores: new Counter({
      name: 'txmon_state_restores_total',
      help: 'Times this processor found a partition’s windows in Redis ending before its committed offset (the checkpoint trails it by up to TXMON_STATE_CHECKPOINT_MS) and replayed the records in between.',
      registers,
    }),
    offsetCommits: new Counter({
      name: 'txmon_ingest_offset_commits_total',
      help: 'Batches’ offset commits to Kafka, by kind: "transaction" (with the batch’s dead letters and alerts, atomically) or "member" (nothing to publish: the group member’s own offset commit, one request instead of a transaction).',
      labelNames: ['kind'],
      registers,
    }),
    stateRoundTrips: new Counter({
      name: 'txmon_state_redis_round_trips_total',
      help: 'Pipelined Redis round trips of the state stage (the read of entities not held in memory, the marker check, and per commit interval the checkpoint and the progress after it).',
      registers,
    }),
    sinkRows: new Counter({
      name: 'txmon_sink_rows_written_total',
      help: 'Rows inserted into MySQL, by table.',
      labelNames: ['table'],
      registers,
    }),
    decisions: new Counter({
      name: 'txmon_detection_decisions_total',
      help: 'Decisions committed, by decision (ALLOW, REVIEW, BLOCK).',
      labelNames: ['decision'],
      registers,
    }),
    ruleHits: new Counter({
      name: 'txmon_detection_rule_hits_total',
      help: 'Rule hits of committed decisions, by rule id (bounded by the rule set) and whether snoozed.',
      labelNames: ['rule_id', 'snoozed'],
      registers,
    }),
    ruleErrors: new Counter({
      name: 'txmon_detection_rule_errors_total',
      help: 'Rule evaluations that threw something other than a missing-value NaN (the rule counted as not hit).',
      registers,
    }),
    rulesReloads: new Counter({
      name: 'txmon_detection_rules_reloads_total',
      help: 'Rule file reloads, by outcome (ok, failed: the previous rules stay).',
      labelNames: ['outcome'],
      registers,
    }),
    rulesInForce: new Gauge({
      name: 'txmon_detection_rules_source',
      help: 'Where the rules in force come from: 1 for source="registry" (the active published rule set) or source="file" (TXMON_RULES_FILE).',
      labelNames: ['source'],
      registers,
    }),
    alertsPublished: new Counter({
      name: 'txmon_detection_alerts_published_total',
      help: 'Alerts committed to the alerts topic.',
      registers,
    }),
    // Observed per transaction: HotHistogram (no allocation per observe), not prom-client's Histogram.
    modelScore: new HotHistogram({
      name: 'txmon_detection_model_score',
      help: 'Isolation-forest scores of committed decisions, for the active and the shadow model.',
      labelNames: ['model'],
      buckets: [0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.9],
      registers,
    }),
    shadowRuleDecisions: new Counter({
      name: 'txmon_detection_shadow_rules_decisions_total',
      help: 'Transactions decided while a rule set was in shadow, by its version, the live decision and the shadow rule set’s decision (off the diagonal: what promoting it would change).',
      labelNames: ['version', 'decision', 'shadow_decision'],
      registers,
    }),
    rolloutShare: new Gauge({
      name: 'txmon_detection_rollout_share',
      help: 'The running staged rollout: the share of accounts its candidate decides for (0–1), by kind and version.',
      labelNames: ['kind', 'version'],
      registers,
    }),
    rolloutRollbacks: new Counter({
      name: 'txmon_detection_rollout_guardrail_rollbacks_total',
      help: 'Staged rollouts this process rolled back because a guardrail was crossed (the evidence is in the audit log).',
      labelNames: ['kind'],
      registers,
    }),
    shadowDisagreements: new Counter({
      name: 'txmon_detection_shadow_disagreements_total',
      help: 'Transactions the shadow model would alert on and the active one not, or the other way round.',
      registers,
    }),
    modelInfo: new Gauge({
      name: 'txmon_detection_model_info',
      help: 'The models in force: 1 for each (state, version); state is active or shadow.',
      labelNames: ['state', 'version'],
      registers,
    }),
    featurePsi: new Gauge({
      name: 'txmon_model_feature_psi',
      help: 'Population stability index of each model feature over recent traffic against the training baseline.',
      labelNames: ['feature'],
      registers,
    }),
    scorePsi: new Gauge({
      name: 'txmon_model_score_psi',
      help: 'Population stability index of the active model score over recent traffic against training.',
      registers,
    }),
    driftAlert: new Gauge({
      name: 'txmon_model_drift_alert',
      help: '1 while the score PSI is above TXMON_DRIFT_PSI_ALERT, else 0.',
      registers,
    }),
    recordToCommit: new HotHistogram({
      name: 'txmon_ingest_record_to_commit_seconds',
      help: "From a record's broker timestamp to the Kafka commit that published its decision (event to decision).",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    batchDuration: new Histogram({
      name: 'txmon_ingest_batch_duration_seconds',
      help: 'Time to process one fetched batch end to end, including retries.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    batchSize: new Histogram({
      name: 'txmon_ingest_batch_records',
      help: 'Records per fetched batch.',
      buckets: [1, 10, 100, 500, 1000, 2500, 5000, 10000, 20000],
      registers,
    }),
    lag: new Gauge({
      name: 'txmon_ingest_consumer_lag_records',
      help: 'High watermark minus the next offset to process, per partition.',
      labelNames: ['topic', 'partition'],
      registers,
    }),
    dependencyUp: new Gauge({
      name: 'txmon_ingest_dependency_up',
      help: '1 when the last call to the dependency succeeded.',
      labelNames: ['dependency'],
      registers,
    }),
    retries: new Counter({
      name: 'txmon_ingest_retries_total',
      help: 'Batch attempts retried after a retriable failure.',
      labelNames: ['dependency'],
      registers,
    }),
  };
}

export type IngestMetrics = ReturnType<typeof createIngestMetrics>;
