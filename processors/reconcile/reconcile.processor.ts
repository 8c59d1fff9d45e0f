/**
 * The reconcile batch handler. Input: the transactions topic (what expects settlement) and the
 * settlements topic (what was settled), one consumer group. Per batch: decode + validate → MySQL
 * (one transaction: store once, advance the watermark, recompute touched and due groups, outbox) →
 * dead letters, exception events and offsets (one Kafka transaction) → outbox marked published.
 * Every step is idempotent, so a failed attempt is retried whole and a crash replays to the same
 * end state.
 */
import type avro from 'avsc';
import type { EachBatchPayload, Message } from 'kafkajs';
import type { Settlement } from '../../domain/settlement.ts';
import type { Transaction } from '../../domain/transaction.ts';
import { retryBatch, step } from '../../platform/batch-retry.ts';
import type { Logger } from '../../platform/logger.ts';
import type { Tolerate } from '../../platform/tolerated.ts';
import type { Pool } from '../../platform/mysql.ts';
import { frame, type AvroDecoder } from '../../platform/schema-registry.ts';
import type { TransactionalOutput } from '../../platform/transactional-output.ts';
import { toAvroRecord, type ReconEventPayload } from '../../reconciliation/changes.ts';
import type { MatchPolicy } from '../../reconciliation/match.ts';
import { deadLetterMessages, deadLetterOf, type DeadLetter } from '../../sinks/dead-letter.sink.ts';
import { applyReconBatch, markPublished } from '../../sinks/recon.sink.ts';
import { classify, type InputCaps, type RawRecord } from '../classify.ts';
import { classifySettlements } from './classify-settlements.ts';
import type { ReconMetrics } from './reconcile.metrics.ts';

export interface ReconHandlerDeps {
  logger: Logger;
  /** Counts and logs a failure the handler goes on through (platform/tolerated.ts). */
  tolerate: Tolerate;
  metrics: ReconMetrics;
  pool: Pool;
  groupId: string;
  topics: { transactions: string; settlements: string; deadLetter: string; exceptions: string };
  transactionDecoder: AvroDecoder<Transaction>;
  settlementDecoder: AvroDecoder<Settlement>;
  deadLetter: { type: avro.Type; schemaId: number };
  exception: { type: avro.Type; schemaId: number };
  output: TransactionalOutput;
  /** The group's committed offset of a partition (the next to read), or null when none was committed. */
  committedOffset: (topic: string, partition: number) => Promise<string | null>;
  settledTypes: ReadonlySet<string>;
  policy: MatchPolicy;
  allowedLatenessMs: number;
  maxFutureSkewMs: number;
  /** Record and field size caps (issue 16): checked before decoding and scanning. */
  inputCaps?: InputCaps;
  retryMaxBackoffMs: number;
}

const DEPENDENCIES = ['schema-registry', 'mysql', 'kafka'] as const;

/** The Kafka messages of exception events: keyed by reference, timestamped with their (stored) detection time. */
export function exceptionMessages(events: readonly ReconEventPayload[], type: avro.Type, schemaId: number): Message[] {
  return events.map((e) => ({
    key: e.transaction_reference,
    timestamp: String(e.detected_at),
    value: frame(schemaId, type.toBuffer(toAvroRecord(e))),
    headers: { 'txmon-exception-id': e.exception_id, 'txmon-status': e.status },
  }));
}

export class ReconBatchHandler {
  /** Dependencies whose last call failed; readiness is red while any is listed. */
  readonly failing = new Set<string>();
  processed = 0;
  /** Partitions taken up since the last join: their producer was renewed (a fresh fence). */
  private readonly takenUp = new Set<string>();

  constructor(private readonly deps: ReconHandlerDeps) {
    for (const d of DEPENDENCIES) deps.metrics.dependencyUp.set({ dependency: d }, 1);
  }

  /** After a join: each partition's next batch renews its producer before it reads the committed offset. */
  joined(): void {
    this.takenUp.clear();
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
    await retryBatch(
      () => this.attempt(batch.topic, batch.partition, records, batch.firstOffset() ?? records[0]!.offset, batch.lastOffset()),
      {
        payload,
        where: { topic: batch.topic, partition: batch.partition, firstOffset: batch.firstOffset() },
        maxMs: this.deps.retryMaxBackoffMs,
        logger,
        failing: this.failing,
        metrics,
        ownership: this.deps.output,
      },
    );
    resolveOffset(batch.lastOffset());
    this.processed += records.length;
    metrics.lag.set({ topic: batch.topic, partition: String(batch.partition) }, Number(batch.offsetLag()));
    endTimer();
    await heartbeat();
  };

  /** Commits past records kafkajs skipped without calling eachBatch (transaction markers, aborted records). */
  async commitSkipped(topic: string, partition: number, nextOffset: string): Promise<void> {
    await this.deps.output.commitSkipped({ groupId: this.deps.groupId, topic, partition, offset: nextOffset });
  }

  /** One idempotent attempt at the whole batch. */
  private async attempt(
    topic: string,
    partition: number,
    records: RawRecord[],
    firstOffset: string,
    lastOffset: string,
  ): Promise<void> {
    const d = this.deps;
    const isSettlements = topic === d.topics.settlements;
    const decoder = isSettlements ? d.settlementDecoder : d.transactionDecoder;
    await step('schema-registry', () => decoder.warmValues(records.map((r) => r.value)));
    let deadLetters: DeadLetter[] = [];
    let settlements: ReturnType<typeof classifySettlements>['valid'] = [];
    let items: ReturnType<typeof classify>['valid'] = [];
    let invalidSkipped = 0;
    const supersessions: Array<{ child: string; parent: string; type: 'CAPTURE' | 'REVERSAL' }> = [];
    let notSettled = 0;
    if (isSettlements) {
      ({ valid: settlements, deadLetters } = classifySettlements(records, {
        topic,
        partition,
        decode: (v) => d.settlementDecoder.decode(v),
        maxFutureSkewMs: d.maxFutureSkewMs,
        caps: d.inputCaps,
      }));
    } else {
      // The ingest processor dead-letters bad transactions; here they only expect nothing.
      const c = classify(records, {
        topic,
        partition,
        decode: (v) => d.transactionDecoder.decode(v),
        maxFutureSkewMs: d.maxFutureSkewMs,
        caps: d.inputCaps,
        redact: () => Buffer.alloc(0),
      });
      invalidSkipped = c.deadLetters.length;
      items = c.valid.filter((v) => d.settledTypes.has(v.tx.type));
      notSettled = c.valid.length - items.length;
      for (const v of c.valid)
        if ((v.tx.type === 'CAPTURE' || v.tx.type === 'REVERSAL') && v.tx.parent_transaction_id !== null)
          supersessions.push({ child: v.tx.transaction_id, parent: v.tx.parent_transaction_id, type: v.tx.type });
    }
    // Fence the partition's previous owner before touching the outbox, then read how far Kafka
    // committed: a stale owner can no longer publish, and what it did publish is known.
    // A partition's first batch since the join renews the producer (its earlier one may be stale:
    // another instance held the partition meanwhile and may still have a batch in flight).
    const key = `${topic}/${partition}`;
    if (this.takenUp.has(key)) await step('kafka', () => d.output.fence(topic, partition));
    else {
      // Marked before: a renew that fails after its InitProducerId is finished by the next batch's
      // fence() (which initialises a producer that is not), without fencing the partition again.
      this.takenUp.add(key);
      await step('kafka', () => d.output.renew(topic, partition));
    }
    // Kafka's answer, or this instance's own last commit of the partition if that is higher: right
    // after a commit returns, OffsetFetch shows the offset before it until the commit's markers are
    // written, and the outbox would take the events that commit carried for unpublished and send
    // them again (the fault run saw 628 exception events twice while a broker failed over).
    const read = await step('kafka', () => d.committedOffset(topic, partition));
    const committed = d.output.committedAtLeast(topic, partition, read === null ? undefined : BigInt(read))?.toString() ?? null;
    const now = Date.now();
    const res = await step('mysql', () =>
      applyReconBatch(d.pool, {
        groupId: d.groupId,
        source: { topic, partition, firstOffset, lastOffset, committed },
        settlements,
        items,
        supersessions,
        policy: d.policy,
        allowedLatenessMs: d.allowedLatenessMs,
        now,
      }),
    );
    const byOffset = new Map(records.map((r) => [r.offset, r]));
    for (const c of res.conflicts)
      deadLetters.push(
        deadLetterOf(
          byOffset.get(c.line.position.offset) as RawRecord,
          c.line.position,
          'CONFLICTING_SETTLEMENT',
          `settlement_id ${c.line.line.settlement_id} was first read at ${c.first.topic}/${c.first.partition}/${c.first.offset} with different content; the first line is kept`,
        ),
      );
    deadLetters.sort((a, b) => (BigInt(a.position.offset) < BigInt(b.position.offset) ? -1 : 1));
    const nextOffset = (BigInt(lastOffset) + 1n).toString();
    // Another owner committed past this batch (it was re-read after a rebalance): its dead letters
    // and events went out with that commit, and offsets never move backwards.
    if (res.alreadyCommitted) return;
    await step('kafka', () =>
      d.output.commit(
        [
          {
            topic: d.topics.deadLetter,
            messages: deadLetterMessages(deadLetters, d.deadLetter.type, d.deadLetter.schemaId, 'reconcile'),
          },
          { topic: d.topics.exceptions, messages: exceptionMessages(res.toPublish, d.exception.type, d.exception.schemaId) },
        ],
        { groupId: d.groupId, topic, partition, offset: nextOffset },
      ),
    );
    // Best effort: an event left unmarked is confirmed by the partition's next batch (its offset is past it).
    await markPublished(
      d.pool,
      res.toPublish.map((e) => e.exception_id),
    ).catch((err: unknown) => d.tolerate('mark-published', err));

    const m = d.metrics;
    if (isSettlements) {
      const replayed = settlements.length - res.settlementsStored - res.resent - res.conflicts.length;
      m.records.inc({ topic, outcome: 'stored' }, res.settlementsStored);
      m.records.inc({ topic, outcome: 'resent' }, res.resent);
      m.records.inc({ topic, outcome: 'conflict' }, res.conflicts.length);
      m.records.inc({ topic, outcome: 'replayed' }, Math.max(0, replayed));
    } else {
      m.records.inc({ topic, outcome: 'stored' }, res.itemsStored);
      m.records.inc({ topic, outcome: 'replayed' }, items.length - res.itemsStored);
      m.records.inc({ topic, outcome: 'not_settled' }, notSettled);
      m.records.inc({ topic, outcome: 'invalid_skipped' }, invalidSkipped);
    }
    m.records.inc({ topic, outcome: 'dead_lettered' }, deadLetters.length);
    for (const dl of deadLetters) m.deadLettered.inc({ error_class: dl.errorClass });
    for (const [status, n] of Object.entries(res.changes)) m.changes.inc({ status }, n);
    m.published.inc(res.toPublish.length);
    if (res.watermark !== null) m.watermark.set(res.watermark / 1000);
  }
}
