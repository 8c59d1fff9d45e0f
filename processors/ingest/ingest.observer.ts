/**
 * What the ingest batch handler reports, kept out of its steps (issue 17, item 8): the Prometheus
 * metrics of each batch (counted once per batch, not per record), the debug log's step timings,
 * and the exit summary's recent batch and record latencies. The handler calls it at three points:
 * a batch consumed, an attempt's steps timed, a batch committed.
 */
import type { DecisionRecord, Models } from '../../detection/decision-record.ts';
import type { Logger } from '../../platform/logger.ts';
import type { OffsetCommitKind } from '../../platform/transactional-output.ts';
import type { IngestMetrics } from './ingest.metrics.ts';

/** The steps of one attempt, in order: what `batch step timings` reports, in ms each. */
export const STEPS = ['decode', 'refdata', 'dedup', 'state', 'detect', 'mysql', 'checkpoint', 'kafka'] as const;
export type StepName = (typeof STEPS)[number];

/** What a committed batch did, as the handler counted it. */
export interface BatchOutcome {
  fresh: number;
  lateFresh: number;
  replayed: number;
  duplicates: number;
  deadLettered: number;
  inserted: number;
  duplicatesRecorded: number;
  decisions: readonly DecisionRecord[];
  alerts: number;
  /** Each dead letter's error class. */
  deadLetterClasses: readonly string[];
}

/** The batch a batch outcome belongs to. */
export interface ObservedBatch {
  topic: string;
  partition: number;
  /** kafkajs's lag of the partition after this batch. */
  offsetLag: string;
  /** The records' broker timestamps (ms since the epoch, as text). */
  timestamps: Iterable<{ timestamp: string }>;
}

/** The clock of one attempt's steps: `mark(step)` when the step ends. */
export class StepTrace {
  private readonly started = performance.now();
  private readonly ends = new Map<StepName, number>();

  mark(step: StepName): void {
    this.ends.set(step, performance.now());
  }

  /** Each step's duration, ms to one decimal: from the previous step's end (or the start). */
  durations(): Partial<Record<StepName, number>> {
    const out: Partial<Record<StepName, number>> = {};
    let from = this.started;
    for (const s of STEPS) {
      const end = this.ends.get(s);
      if (end === undefined) continue;
      out[s] = Math.round((end - from) * 10) / 10;
      from = end;
    }
    return out;
  }
}

export class IngestObserver {
  /** Records fully processed (committed) by this instance. */
  processed = 0;
  private readonly batchMs: number[] = [];
  private batches = 0;
  private readonly latencyMs: number[] = [];
  private latencies = 0;
  /** Pipelined round trips of the state stage (batch attempts; not the stop-time progress records). */
  private stateRoundTrips = 0;

  constructor(
    private readonly metrics: IngestMetrics,
    private readonly logger: Logger,
    private readonly models: () => Models,
  ) {}

  /** A batch consumed: counted, and its clock started (the returned function reads it, in seconds). */
  batchStarted(topic: string, records: number): () => number {
    this.metrics.consumed.inc({ topic }, records);
    this.metrics.batchSize.observe(records);
    return this.metrics.batchDuration.startTimer();
  }

  /** An attempt's Redis round trips of the state stage. */
  stateTrips(trips: number): void {
    this.stateRoundTrips += trips;
    this.metrics.stateRoundTrips.inc(trips);
  }

  /** A restore started (a replay from the partition's last checkpoint). */
  restoreStarted(): void {
    this.metrics.stateRestores.inc();
  }

  /** An attempt that reached its Kafka commit: its step timings and how its offsets went (null: nothing to commit), in the debug log. */
  attemptDone(records: number, trace: StepTrace, commit: OffsetCommitKind | null = null): void {
    if (this.logger.isLevelEnabled('debug'))
      this.logger.debug(
        Object.fromEntries([
          ['records', records],
          ['commit', commit],
          ...Object.entries(trace.durations()).map(([k, v]) => [`${k}Ms`, v]),
        ]),
        'batch step timings',
      );
  }

  /** A batch committed: its outcomes, decisions and latencies. */
  batchCommitted(batch: ObservedBatch, records: number, result: BatchOutcome, elapsed: () => number): void {
    const { metrics } = this;
    this.processed += records;
    metrics.outcomes.inc({ outcome: 'valid' }, result.fresh);
    metrics.late.inc(result.lateFresh);
    metrics.outcomes.inc({ outcome: 'replayed' }, result.replayed);
    metrics.outcomes.inc({ outcome: 'duplicate' }, result.duplicates);
    metrics.outcomes.inc({ outcome: 'dead_lettered' }, result.deadLettered);
    metrics.sinkRows.inc({ table: 'transactions' }, result.inserted);
    metrics.sinkRows.inc({ table: 'transaction_duplicates' }, result.duplicatesRecorded);
    for (const c of result.deadLetterClasses) metrics.deadLettered.inc({ error_class: c });
    const inForce = this.models();
    const activeThreshold = inForce.active?.model.threshold ?? Infinity;
    const shadowThreshold = inForce.shadow?.model.threshold ?? Infinity;
    // Label look-ups once per batch, not per transaction.
    const kinds = { ALLOW: 0, REVIEW: 0, BLOCK: 0 };
    const activeScores = metrics.modelScore.labels({ model: 'active' });
    const shadowScores = metrics.modelScore.labels({ model: 'shadow' });
    for (const dec of result.decisions) {
      kinds[dec.decision]++;
      for (const h of dec.ruleHits) metrics.ruleHits.inc({ rule_id: h.ruleId, snoozed: String(h.snoozed) });
      if (dec.modelScore !== null) activeScores.observe(dec.modelScore);
      if (dec.shadowScore !== null) {
        shadowScores.observe(dec.shadowScore);
        const shadowAlerts = dec.shadowScore >= shadowThreshold;
        const activeAlerts = dec.modelScore !== null && dec.modelScore >= activeThreshold;
        if (shadowAlerts !== activeAlerts) metrics.shadowDisagreements.inc();
      }
    }
    for (const [decision, n] of Object.entries(kinds)) if (n > 0) metrics.decisions.inc({ decision }, n);
    // The shadow rule set's decisions beside the live ones (fresh decisions only: a replay's stored
    // decision has none), counted per transition once per batch.
    let shadowed: Map<string, number> | null = null;
    for (const dec of result.decisions) {
      if (dec.shadowRules === null) continue;
      shadowed ??= new Map();
      const key = `${dec.shadowRules.version}\u0000${dec.decision}\u0000${dec.shadowRules.decision}`;
      shadowed.set(key, (shadowed.get(key) ?? 0) + 1);
    }
    if (shadowed !== null)
      for (const [key, n] of shadowed) {
        const [version, decision, shadow] = key.split('\u0000') as [string, string, string];
        metrics.shadowRuleDecisions.inc({ version, decision, shadow_decision: shadow }, n);
      }
    metrics.alertsPublished.inc(result.alerts);
    metrics.lag.set({ topic: batch.topic, partition: String(batch.partition) }, Number(batch.offsetLag));
    const seconds = elapsed();
    // A bounded ring of recent batch latencies for the exit summary (the histogram serves Prometheus).
    this.batchMs[this.batches++ % 100_000] = seconds * 1000;
    // Event to decision: from each record's broker timestamp (its producer's clock) to the Kafka
    // commit that made its decision, alert or dead letter visible.
    const committedAt = Date.now();
    const recordToCommit = metrics.recordToCommit.labels({});
    for (const r of batch.timestamps) {
      const ms = committedAt - Number(r.timestamp);
      recordToCommit.observe(ms / 1000);
      this.latencyMs[this.latencies++ % 200_000] = ms;
    }
  }

  /** Records processed and batch latency percentiles of this instance (recent batches). */
  summary(): {
    processed: number;
    batches: number;
    stateRoundTrips: number;
    batchP50Ms: number;
    batchP99Ms: number;
    batchMaxMs: number;
    recordToCommitP50Ms: number;
    recordToCommitP99Ms: number;
  } {
    const quantile = (values: number[]) => {
      const sorted = [...values].sort((a, b) => a - b);
      return (q: number) =>
        sorted.length === 0 ? 0 : (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number);
    };
    const at = quantile(this.batchMs);
    const lat = quantile(this.latencyMs);
    return {
      processed: this.processed,
      batches: this.batches,
      stateRoundTrips: this.stateRoundTrips,
      batchP50Ms: Math.round(at(0.5) * 10) / 10,
      batchP99Ms: Math.round(at(0.99) * 10) / 10,
      batchMaxMs: Math.round(at(1) * 10) / 10,
      recordToCommitP50Ms: Math.round(lat(0.5)),
      recordToCommitP99Ms: Math.round(lat(0.99)),
    };
  }
}
