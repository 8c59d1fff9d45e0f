/**
 * The ingest batch handler: decode + validate → dedup (Redis, one round trip) → MySQL (one
 * transaction) → dead letters and offsets (one Kafka transaction). Every step is idempotent, so a
 * failed attempt is retried whole with backoff, and a crash anywhere replays to the same end state.
 */
import type avro from 'avsc';
import type { EachBatchPayload } from 'kafkajs';
import type { PanField, Transaction } from '../../domain/transaction.ts';
import { DependencyError, errorMessage, isRetriable } from '../../platform/errors.ts';
import { accountKeys } from '../../platform/keys.ts';
import type { Logger } from '../../platform/logger.ts';
import type { Pool } from '../../platform/mysql.ts';
import { DedupStatus, dedupArgs, type TxmonPipeline, type TxmonRedis } from '../../platform/redis.ts';
import type { AvroDecoder } from '../../platform/registry.ts';
import { retry } from '../../platform/retry.ts';
import { deadLetterMessages } from '../../sinks/dead-letter.sink.ts';
import { positionKey, writeBatch, type DuplicateDelivery, type PositionedTransaction } from '../../sinks/transactions.sink.ts';
import { lateFlags } from '../../domain/windows.ts';
import { classify, type RawRecord } from './classify.ts';
import { encodeClock, type PartitionClocks } from './partition-clock.ts';
import type { IngestMetrics } from './ingest.metrics.ts';
import type { TransactionalOutput } from './transactional-output.ts';

export interface IngestHandlerDeps {
  logger: Logger;
  metrics: IngestMetrics;
  redis: TxmonRedis;
  pool: Pool;
  decoder: AvroDecoder<Transaction>;
  output: TransactionalOutput;
  redact: (tx: Transaction, fields: readonly PanField[]) => Buffer;
  deadLetter: { topic: string; type: avro.Type; schemaId: number };
  groupId: string;
  keyPrefix: string;
  dedupTtlSeconds: number;
  maxFutureSkewMs: number;
  retryMaxBackoffMs: number;
  allowedLatenessMs: number;
  clocks: PartitionClocks;
}

export interface DedupOutcome {
  fresh: PositionedTransaction[];
  replayed: PositionedTransaction[];
  duplicates: DuplicateDelivery[];
}

const DEPENDENCIES = ['schema-registry', 'redis', 'mysql', 'kafka'] as const;
type Dependency = (typeof DEPENDENCIES)[number];

/** Whether a heartbeat failure means this member must rejoin the group (its assignment may change). */
function isRebalance(err: unknown): boolean {
  const type = (err as { type?: unknown }).type;
  return (
    type === 'REBALANCE_IN_PROGRESS' ||
    type === 'UNKNOWN_MEMBER_ID' ||
    type === 'ILLEGAL_GENERATION' ||
    type === 'FENCED_INSTANCE_ID'
  );
}

/** Runs a step, tagging its retriable failures with the dependency that failed. */
async function step<T>(dependency: Dependency, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof DependencyError || !isRetriable(err)) throw err;
    throw new DependencyError(dependency, errorMessage(err), err);
  }
}

export class IngestBatchHandler {
  /** Dependencies whose last call failed; readiness is red while any is listed. */
  readonly failing = new Set<string>();
  /** Records fully processed (committed) by this instance. */
  processed = 0;
  private readonly batchMs: number[] = [];
  private batches = 0;

  constructor(private readonly deps: IngestHandlerDeps) {
    for (const d of DEPENDENCIES) deps.metrics.dependencyUp.set({ dependency: d }, 1);
  }

  /** kafkajs eachBatch callback (eachBatchAutoResolve: false, autoCommit: false). */
  readonly eachBatch = async (payload: EachBatchPayload): Promise<void> => {
    const { batch, resolveOffset, heartbeat, isRunning, isStale } = payload;
    if (batch.isEmpty() || !isRunning() || isStale()) return;
    const { metrics, logger } = this.deps;
    const endTimer = metrics.batchDuration.startTimer();
    const records: RawRecord[] = batch.messages.map((m) => ({
      key: m.key,
      value: m.value,
      offset: m.offset,
      timestamp: m.timestamp,
    }));
    metrics.consumed.inc({ topic: batch.topic }, records.length);
    metrics.batchSize.observe(records.length);
    const nextOffset = (BigInt(batch.lastOffset()) + 1n).toString();

    // Set when a heartbeat during retries says the group is rebalancing: the partition may move to
    // another member, so stop retrying here (nothing was committed; the new owner replays the batch).
    let rebalancing = false;
    const result = await retry(() => this.attempt(batch.topic, batch.partition, records, nextOffset), {
      maxMs: this.deps.retryMaxBackoffMs,
      shouldContinue: () => isRunning() && !isStale() && !rebalancing,
      onRetry: async (err, attempt, delayMs) => {
        const dependency = err instanceof DependencyError ? err.dependency : 'unknown';
        this.failing.add(dependency);
        metrics.dependencyUp.set({ dependency }, 0);
        metrics.retries.inc({ dependency });
        logger.warn(
          { dependency, attempt, delayMs, topic: batch.topic, partition: batch.partition, firstOffset: batch.firstOffset() },
          `batch paused: ${errorMessage(err)}; retrying`,
        );
        try {
          await heartbeat();
        } catch (hbErr) {
          if (isRebalance(hbErr)) rebalancing = true;
          else logger.warn({ err: hbErr }, 'heartbeat failed while retrying');
        }
      },
    });
    for (const d of this.failing) metrics.dependencyUp.set({ dependency: d }, 1);
    if (this.failing.size > 0) logger.info({ recovered: [...this.failing] }, 'dependencies back; batch done');
    this.failing.clear();

    resolveOffset(batch.lastOffset());
    this.processed += records.length;
    metrics.outcomes.inc({ outcome: 'valid' }, result.fresh);
    metrics.late.inc(result.lateFresh);
    metrics.outcomes.inc({ outcome: 'replayed' }, result.replayed);
    metrics.outcomes.inc({ outcome: 'duplicate' }, result.duplicates);
    metrics.outcomes.inc({ outcome: 'dead_lettered' }, result.deadLettered);
    metrics.sinkRows.inc({ table: 'transactions' }, result.inserted);
    metrics.sinkRows.inc({ table: 'transaction_duplicates' }, result.duplicatesRecorded);
    metrics.lag.set({ topic: batch.topic, partition: String(batch.partition) }, Number(batch.offsetLag()));
    const seconds = endTimer();
    // A bounded ring of recent batch latencies for the exit summary (the histogram serves Prometheus).
    this.batchMs[this.batches++ % 100_000] = seconds * 1000;
    await heartbeat();
  };

  /**
   * Commits past records kafkajs skipped without calling eachBatch (transaction markers, aborted
   * records), keeping the partition clock in the offset metadata.
   */
  async commitSkipped(topic: string, partition: number, nextOffset: string): Promise<void> {
    const d = this.deps;
    const max = await d.clocks.at(topic, partition, nextOffset);
    await d.output.commitSkipped({ groupId: d.groupId, topic, partition, offset: nextOffset, metadata: encodeClock(max) });
    d.clocks.advance(topic, partition, nextOffset, max);
  }

  /** Records processed and batch latency percentiles of this instance (recent batches). */
  summary(): { processed: number; batches: number; batchP50Ms: number; batchP99Ms: number; batchMaxMs: number } {
    const sorted = [...this.batchMs].sort((a, b) => a - b);
    const at = (q: number) =>
      sorted.length === 0 ? 0 : (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number);
    return {
      processed: this.processed,
      batches: this.batches,
      batchP50Ms: Math.round(at(0.5) * 10) / 10,
      batchP99Ms: Math.round(at(0.99) * 10) / 10,
      batchMaxMs: Math.round(at(1) * 10) / 10,
    };
  }

  /** One idempotent attempt at the whole batch. */
  private async attempt(topic: string, partition: number, records: RawRecord[], nextOffset: string) {
    const d = this.deps;
    const t0 = performance.now();
    await step('schema-registry', () => d.decoder.warmValues(records.map((r) => r.value)));
    const { valid, deadLetters } = classify(records, {
      topic,
      partition,
      decode: (v) => d.decoder.decode(v),
      maxFutureSkewMs: d.maxFutureSkewMs,
      redact: d.redact,
    });
    // Event-time lateness, from the partition clock committed with the previous offset: deterministic.
    const first = records[0] as RawRecord;
    const startMax = await step('kafka', () => d.clocks.at(topic, partition, first.offset));
    const clock = lateFlags(
      valid.map((v) => v.tx.event_time),
      startMax,
      d.allowedLatenessMs,
    );
    valid.forEach((v, i) => (v.late = clock.flags[i] === true));
    const t1 = performance.now();
    const dedup = await step('redis', () => this.dedup(valid));
    const t2 = performance.now();
    const sink = await step('mysql', () => writeBatch(d.pool, dedup));
    const t3 = performance.now();
    const dlqMessages = deadLetterMessages(deadLetters, d.deadLetter.type, d.deadLetter.schemaId, 'ingest');
    await step('kafka', () =>
      d.output.commit([{ topic: d.deadLetter.topic, messages: dlqMessages }], {
        groupId: d.groupId,
        topic,
        partition,
        offset: nextOffset,
        metadata: encodeClock(clock.maxEventTime),
      }),
    );
    d.clocks.advance(topic, partition, nextOffset, clock.maxEventTime);
    if (d.logger.isLevelEnabled('debug')) {
      const ms = (a: number, b: number) => Math.round((b - a) * 10) / 10;
      const t4 = performance.now();
      d.logger.debug(
        { records: records.length, decodeMs: ms(t0, t1), redisMs: ms(t1, t2), mysqlMs: ms(t2, t3), kafkaMs: ms(t3, t4) },
        'batch step timings',
      );
    }
    for (const dl of deadLetters) d.metrics.deadLettered.inc({ error_class: dl.errorClass });
    const lateDuplicateKeys = new Set(sink.lateDuplicates.map((x) => positionKey(x.position)));
    const notLate = (p: PositionedTransaction) => !lateDuplicateKeys.has(positionKey(p.position));
    return {
      lateFresh: dedup.fresh.filter((p) => notLate(p) && p.late === true).length,
      fresh: dedup.fresh.filter(notLate).length,
      replayed: dedup.replayed.filter(notLate).length,
      duplicates: dedup.duplicates.length + sink.lateDuplicates.length,
      deadLettered: deadLetters.length,
      inserted: sink.inserted,
      duplicatesRecorded: sink.duplicatesRecorded,
    };
  }

  /** Runs dedup.lua once per account (its keys share a hash slot), all pipelined in one round trip. */
  async dedup(valid: PositionedTransaction[]): Promise<DedupOutcome> {
    const out: DedupOutcome = { fresh: [], replayed: [], duplicates: [] };
    if (valid.length === 0) return out;
    const { keyPrefix, dedupTtlSeconds } = this.deps;
    const byAccount = new Map<string, PositionedTransaction[]>();
    for (const v of valid) {
      const list = byAccount.get(v.tx.account_id);
      if (list) list.push(v);
      else byAccount.set(v.tx.account_id, [v]);
    }
    const pipeline = this.deps.redis.pipeline() as TxmonPipeline;
    const groups = [...byAccount.entries()];
    for (const [account, list] of groups) {
      const keys = accountKeys(keyPrefix, account);
      pipeline.txmonDedupV1(
        ...dedupArgs(
          list.map((v) => keys.dedup(v.tx.transaction_id)),
          list.map((v) => positionKey(v.position)),
          dedupTtlSeconds,
        ),
      );
    }
    const results = await pipeline.exec();
    if (!results) throw new DependencyError('redis', 'pipeline aborted');
    for (let g = 0; g < groups.length; g++) {
      const [err, reply] = results[g] as [Error | null, Array<number | string>];
      if (err) throw err;
      const list = (groups[g] as [string, PositionedTransaction[]])[1];
      for (let i = 0; i < list.length; i++) {
        const v = list[i] as PositionedTransaction;
        const status = reply[2 * i] as number;
        const firstSeen = reply[2 * i + 1] as string;
        if (status === DedupStatus.NEW) out.fresh.push(v);
        else if (status === DedupStatus.REPLAY) out.replayed.push(v);
        else out.duplicates.push({ transactionId: v.tx.transaction_id, position: v.position, firstSeen, detectedBy: 'redis' });
      }
    }
    return out;
  }
}
