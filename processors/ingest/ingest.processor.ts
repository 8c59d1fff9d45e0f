/**
 * The ingest batch handler (docs/state.md "One batch, in order"): decode + validate → lateness →
 * enrich (reference data, cached) → dedup (MySQL's unique key) → windows (the partition's state in
 * memory, read through from Redis) → decide → MySQL (one transaction) → Redis checkpoint (the
 * changed contributions, fenced, then the partition's progress) → dead letters, alerts and offsets
 * (one Kafka transaction). Every step is idempotent, so a failed attempt is retried whole with
 * backoff, and a crash anywhere replays to the same end state: a transaction MySQL holds gets its
 * stored features and decision back, and a fence keeps a replayed record out of the windows.
 */
import { writeSync } from 'node:fs';
import { Cluster } from 'ioredis';
import type avro from 'avsc';
import type { EachBatchPayload } from 'kafkajs';
import type { PanField, Transaction } from '../../domain/transaction.ts';
import { StateLostError } from '../../platform/errors.ts';
import type { StateRedis } from '../../platform/redis-pipelines.ts';
import { retryBatch, step } from '../../platform/batch-retry.ts';
import type { Logger } from '../../platform/logger.ts';
import type { Tolerate } from '../../platform/tolerated.ts';
import type { Pool } from '../../platform/mysql.ts';
import type { AvroDecoder } from '../../platform/schema-registry.ts';
import { deadLetterMessages } from '../../sinks/dead-letter.sink.ts';
import {
  positionKey,
  writeBatch,
  type DuplicateDelivery,
  type KafkaPosition,
  type PositionedTransaction,
} from '../../sinks/transactions.sink.ts';
import { lateFlags, type WindowSpec } from '../../domain/windows.ts';
import { staticFeatures, type StaticFeatures, type StaticRefs } from '../../domain/enrich.ts';
import { STATIC_FEATURE_NAMES, SnapshotLayout, SnapshotWriter, objectSource } from '../../domain/snapshot.ts';
import { inCanary } from '../../detection/canary.ts';
import { decideTransaction, type DecisionRecord, type Models } from '../../detection/decision-record.ts';
import type { DecisionPolicy } from '../../detection/decide.ts';
import type { DriftMonitor } from '../../detection/drift-monitor.ts';
import type { RuleSet } from '../../detection/rules.ts';
import type { LiveRollout } from './rule-set-watcher.ts';
import { alertMessages } from '../../sinks/alerts.sink.ts';
import type { RefdataCache } from '../../refdata/cache.ts';
import { lookupStored, type StoredTransaction } from '../../sinks/lookup-stored.ts';
import { FeatureDecoder } from '../../sinks/feature-vector.ts';
import type { EntityStore } from '../../state/entity-store.ts';
import { deleteMarker, readProgress, recordProgress } from '../../state/marker.ts';
import {
  PartitionState,
  type HeldPartition,
  type PartitionCheckpoint,
  type StateTransaction,
} from '../../state/partition-state.ts';
import type { SourcePartition } from '../../state/keys.ts';
import { classify, type InputCaps, type RawRecord } from '../classify.ts';
import { encodeClock, type PartitionClocks } from './partition-clock.ts';
import type { IngestMetrics } from './ingest.metrics.ts';
import { IngestObserver, StepTrace, type BatchOutcome } from './ingest.observer.ts';
import {
  CommittedMovedError,
  memberCommit,
  type OffsetCommit,
  type OffsetCommitKind,
  type TransactionalOutput,
} from '../../platform/transactional-output.ts';

/**
 * The window state of one ingest process: the store of the marker's generation and the partition
 * state over it. A rebuild moves the generation: both are replaced, and the partitions' contributions
 * held in memory go with the old ones (the rebuilt store is read through again).
 */
export class IngestState {
  partitions: PartitionState;

  constructor(
    readonly redis: StateRedis,
    readonly prefix: string,
    public store: EntityStore,
    private readonly options: ConstructorParameters<typeof PartitionState>[1],
  ) {
    this.partitions = new PartitionState(store, options);
  }

  /** Switches to a generation's store (nothing happens on the current one). */
  adopt(generation: number): void {
    if (generation === this.store.generation) return;
    this.store = this.store.forGeneration(generation);
    this.partitions = new PartitionState(this.store, this.options);
  }
}

export interface IngestHandlerDeps {
  logger: Logger;
  /** Counts and logs a failure the handler goes on through (platform/tolerated.ts). */
  tolerate: Tolerate;
  metrics: IngestMetrics;
  state: IngestState;
  /**
   * Rebuilds lost state from MySQL, or returns while another processor does (state/rebuild.ts);
   * `heartbeat` keeps the batch's group membership while it runs.
   */
  recoverState: (heartbeat?: () => Promise<void>) => Promise<void>;
  refdata: RefdataCache;
  baseCurrency: string;
  windows: readonly WindowSpec[];
  /** The feature layout of `windows` in MySQL (sinks/feature-vector.ts requireFeatureLayout). */
  featureLayout: number;
  pool: Pool;
  /**
   * The pool the batch's MySQL transaction is written on, created with `multipleStatements`: its
   * statements then go as one query (sinks/transactions.sink.ts writeBatch `oneTrip`). Unset: `pool`,
   * one round trip per statement.
   */
  writePool?: Pool;
  decoder: AvroDecoder<Transaction>;
  output: TransactionalOutput;
  redact: (tx: Transaction, fields: readonly PanField[]) => Buffer;
  deadLetter: { topic: string; type: avro.Type; schemaId: number };
  groupId: string;
  maxFutureSkewMs: number;
  /** Record and field size caps (issue 16): checked before decoding and scanning. */
  inputCaps?: InputCaps;
  retryMaxBackoffMs: number;
  allowedLatenessMs: number;
  clocks: PartitionClocks;
  detection: DetectionDeps;
  /** Crash tests only (TXMON_FAULT_KILL_AT): SIGKILL the process the n-th time a batch reaches the point. */
  faultKillAt?: { point: FaultPoint; n: number } | null;
  /**
   * How often a partition's changed windows are checkpointed to Redis, ms (TXMON_STATE_CHECKPOINT_MS;
   * 0: every batch). Between checkpoints the partition's progress in Redis trails Kafka's committed
   * offset; a process that takes the partition over restores the gap by replaying it (`seek`).
   */
  checkpointIntervalMs: number;
  /**
   * How often, between those checkpoints, a partition's changed shared contributions (merchants,
   * devices: what other partitions read) are checkpointed alone, ms (TXMON_STATE_SHARED_CHECKPOINT_MS;
   * 0: every batch). Not above checkpointIntervalMs in effect. Raises no progress.
   */
  sharedCheckpointIntervalMs: number;
  /** Moves the consumer's position in a partition (kafkajs Consumer.seek): how a gap is replayed. */
  seek: (p: { topic: string; partition: number; offset: string }) => void;
}

/** Where a crash test may kill the process: after a batch's MySQL commit, its Redis checkpoint, or its Kafka commit. */
export type FaultPoint = 'after-mysql' | 'after-checkpoint' | 'after-commit';

/** What the detection stage reads: the rules and models in force (they change while running). */
export interface DetectionDeps {
  rules: () => RuleSet;
  /** The rule set in shadow (decides beside the live one, stored as counts, never acting), or null. */
  shadowRules: () => RuleSet | null;
  /** The running staged rollout: its candidate decides for the accounts in its share (detection/canary.ts). */
  rollout: () => LiveRollout | null;
  models: () => Models;
  drift: () => DriftMonitor | null;
  policy: DecisionPolicy;
  alerts: { topic: string; type: avro.Type; schemaId: number };
}

const DEPENDENCIES = ['schema-registry', 'redis', 'mysql', 'kafka'] as const;
/** The snapshot of a transaction the state stage did not reach (never decided; a guard for the type). */
const EMPTY_SNAPSHOT = objectSource({});

export class IngestBatchHandler {
  /** Dependencies whose last call failed; readiness is red while any is listed. */
  readonly failing = new Set<string>();
  /** Metrics, step timings and the exit summary (ingest.observer.ts). */
  readonly observer: IngestObserver;
  /** Per partition, the tail of its lane (inLane): batches and assignment restores in turn. */
  private readonly lanes = new Map<string, Promise<void>>();
  /** Joins so far: a batch or restore check carries the one it started under. */
  private joins = 0;
  /** Per partition, the join under which it was last taken up (its producer renewed: a fresh fence). */
  private readonly takenUp = new Map<string, number>();
  /** Assigned partitions whose windows restoreAssigned has still to check (or is checking). */
  private checksPending = 0;
  /** Set by a graceful stop (waitRestored): pending checks then start no new restore (the next owner's job). */
  private stopping = false;
  /** Times each fault point was reached (crash tests). */
  private readonly faultHits = new Map<FaultPoint, number>();

  private readonly snapshots: SnapshotWriter;
  private readonly layout: SnapshotLayout;
  private readonly featureDecoder: FeatureDecoder;

  constructor(private readonly deps: IngestHandlerDeps) {
    this.snapshots = new SnapshotWriter(deps.windows);
    this.layout = new SnapshotLayout(deps.windows);
    this.featureDecoder = new FeatureDecoder(deps.pool);
    this.observer = new IngestObserver(deps.metrics, deps.logger, deps.detection.models);
    for (const d of DEPENDENCIES) deps.metrics.dependencyUp.set({ dependency: d }, 1);
  }

  /** kafkajs eachBatch callback (eachBatchAutoResolve: false, autoCommit: false). */
  readonly eachBatch = (payload: EachBatchPayload): Promise<void> =>
    // In the partition's lane: a restore started by an assignment (restoreAssigned) and a batch
    // never interleave, so a batch fetched before a restore's seek is seen as stale.
    this.inLane(`${payload.batch.topic}/${payload.batch.partition}`, () => this.runBatch(payload));

  private async runBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, heartbeat, isRunning, isStale } = payload;
    if (batch.isEmpty() || !isRunning() || isStale()) return;
    const { metrics, logger } = this.deps;
    // kafkajs's messages have RawRecord's fields already: read in place, not copied.
    const records: readonly RawRecord[] = batch.messages;
    const elapsed = this.observer.batchStarted(batch.topic, records.length);
    const nextOffset = (BigInt(batch.lastOffset()) + 1n).toString();

    // Stops retrying when the consumer stops or the group rebalances: nothing was committed, and the
    // partition's next owner replays the batch.
    const asMember = memberCommit(payload.commitOffsetsIfNecessary);
    const join = this.joins;
    const outcome = await retryBatch(
      () => this.attempt(batch.topic, batch.partition, records, nextOffset, heartbeat, asMember, join),
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
    // The partition's windows in Redis end before this batch: replayed from there first.
    if ('restoreFrom' in outcome) return;
    resolveOffset(batch.lastOffset());
    this.observer.batchCommitted(
      { topic: batch.topic, partition: batch.partition, offsetLag: batch.offsetLag(), timestamps: records },
      records.length,
      outcome,
      elapsed,
    );
    await heartbeat();
  }

  /** Runs `fn` after everything queued in the partition's lane. */
  private inLane<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.lanes.get(key) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const settled = run.then(
      () => {},
      () => {},
    );
    this.lanes.set(key, settled);
    void settled.then(() => {
      if (this.lanes.get(key) === settled) this.lanes.delete(key);
    });
    return run;
  }

  /**
   * On an assignment: each assigned partition whose windows in Redis end below Kafka's committed
   * offset (the last owner stopped between checkpoints) is restored now, by replaying the records
   * in between, rather than when its next record comes: a quiet partition's windows (what the API
   * serves) are then complete too. Best effort: a failure is logged, and the partition's first
   * batch checks again.
   */
  restoreAssigned(assignment: Readonly<Record<string, readonly number[]>>): Promise<void> {
    const d = this.deps;
    const all = Object.entries(assignment).flatMap(([topic, ps]) => ps.map((partition) => ({ topic, partition })));
    // Counted from now, not from when a check reaches its lane: a drain or a graceful stop that came
    // between the assignment and the restore's start would otherwise see nothing to wait for, and
    // leave the windows of a quiet partition behind the committed offset.
    this.checksPending += all.length;
    const join = this.joins;
    return Promise.all(
      all.map((source) =>
        this.inLane(`${source.topic}/${source.partition}`, async () => {
          if (d.state.partitions.heldPartition(source) !== undefined) return;
          await this.takeUp(source, join);
          const read = await readProgress(d.state.redis, d.state.prefix, source);
          if (read.generation !== d.state.store.generation) return; // the first batch adopts it
          if (read.progress === null) return;
          const committed = await d.clocks.committedOffset(source.topic, source.partition);
          if (committed === undefined || read.progress >= committed) return;
          if (this.stopping) {
            d.logger.info(
              { ...source, from: read.progress.toString(), to: committed.toString() },
              'stopping: the partition’s windows end before the committed offset, and are left for its next owner to restore',
            );
            return;
          }
          this.restore(d.state.partitions.hold(source, read.progress), committed);
        })
          .catch((err: unknown) => d.tolerate('partition-check', err, source))
          .finally(() => this.checksPending--),
      ),
    ).then(() => {});
  }

  /** Partitions being restored (their replay has not reached the committed offset yet), or still to be checked for it. */
  restoring(): number {
    return this.checksPending + this.deps.state.partitions.heldPartitions().filter((h) => h.restoreTo !== null).length;
  }

  /** Waits until no partition is being restored, or `timeoutMs` (a graceful stop: restored windows are checkpointed). */
  async waitRestored(timeoutMs: number): Promise<void> {
    // Restores already running finish; a check still pending ends without starting one, so a stop
    // is not lengthened by a replay that began after it (a CI run's SIGTERM timed out that way).
    this.stopping = true;
    const until = Date.now() + timeoutMs;
    while (this.restoring() > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
  }

  /** Replays a held partition from its progress up to `to` (Kafka's committed offset, or a batch's first offset). */
  private restore(held: HeldPartition, to: bigint): void {
    const { logger } = this.deps;
    const from = held.progress as bigint;
    held.restoreTo = to;
    logger.info(
      { topic: held.source.topic, partition: held.source.partition, from: from.toString(), to: to.toString() },
      'restoring the partition’s windows: replaying the records after its last checkpoint',
    );
    this.observer.restoreStarted();
    this.deps.seek({ ...held.source, offset: from.toString() });
  }

  /**
   * Commits past records kafkajs skipped without calling eachBatch (transaction markers, aborted
   * records), keeping the partition clock in the offset metadata.
   */
  async commitSkipped(topic: string, partition: number, nextOffset: string): Promise<void> {
    const d = this.deps;
    const max = await d.clocks.at(topic, partition, nextOffset);
    // Skipped records below the committed offset (a restore replaying them): nothing to commit, and
    // committing would move the group's position back.
    const committed = d.clocks.committed(topic, partition);
    if (committed !== undefined && BigInt(nextOffset) <= committed) return;
    // A check, and the published offset: the progress is raised only by a checkpoint, which covers
    // the windows' changes before it (skipped records change none; a later batch's checkpoint
    // raises the progress past them).
    await recordProgress(d.state.redis, d.state.prefix, {
      topic,
      partition,
      next: null,
      floor: d.state.partitions.heldPartition({ topic, partition })?.progress,
      committed: d.clocks.committed(topic, partition),
    }).catch(async (err: unknown) => {
      if (err instanceof StateLostError) await d.recoverState();
      throw err;
    });
    await d.output.commitSkipped({ groupId: d.groupId, topic, partition, offset: nextOffset, metadata: encodeClock(max) });
    d.clocks.advance(topic, partition, nextOffset, max);
  }

  /**
   * Tells Redis how far Kafka's commits went (state/lua/progress.lua's published offset), so a later replay
   * after a manual offset reset publishes none of those alerts again. Each batch reports the commit
   * before it; this covers each partition's last one, including partitions whose last batch was
   * committed by a process that was then killed. Called on a graceful stop with the group's
   * committed offsets (a manual reset needs the group stopped).
   */
  async recordCommits(committed: ReadonlyArray<{ topic: string; partition: number; offset: string }>): Promise<void> {
    const { redis, prefix } = this.deps.state;
    for (const c of committed)
      await recordProgress(redis, prefix, {
        topic: c.topic,
        partition: c.partition,
        next: null,
        floor: undefined,
        committed: BigInt(c.offset),
      });
  }

  /**
   * Checkpoints every held partition's changes not yet checkpointed, with its progress (a graceful
   * stop, after the consumer stopped: no batch in flight, so memory holds what MySQL and Kafka hold).
   * Not needed for correctness (the next owner replays the gap); it spares that replay.
   */
  async flushCheckpoints(): Promise<void> {
    const { state } = this.deps;
    for (const held of state.partitions.heldPartitions())
      if (held.next !== null && state.partitions.hasChanges(held.source)) await this.checkpointPartition(state, held, held.next);
  }

  /**
   * A partition's changes since its last checkpoint, then its progress (`next`: the offset they
   * cover up to), in the store and partition state the batch read (a rebuild may have replaced
   * IngestState's meanwhile). Returns the Redis round trips.
   */
  private async checkpointPartition({ store, partitions }: AttemptState, held: HeldPartition, next: string): Promise<number> {
    const { state } = this.deps;
    const source = held.source;
    const trips = await writeCheckpoint(store, partitions.checkpoint(source));
    await step('redis', () =>
      recordProgress(state.redis, state.prefix, { ...source, next, floor: held.progress, committed: undefined }),
    );
    held.progress = BigInt(next);
    return trips + 1;
  }

  /**
   * Holds a partition on its first batch in this process (after an assignment, a rebalance, a failed
   * batch or a rebuild): reads its progress from Redis. Returns the offset to replay from when the
   * windows there end before `firstOffset` (docs/state.md "A checkpoint per commit interval"), else null.
   */
  private async holdPartition(
    source: SourcePartition,
    firstOffset: string,
    heartbeat: () => Promise<void>,
    /** The join the batch started under. */
    join: number,
  ): Promise<string | null> {
    const d = this.deps;
    const { partitions } = d.state;
    if (partitions.heldPartition(source) !== undefined) return null;
    await step('kafka', () => this.takeUp(source, join));
    const read = await step('redis', () => readProgress(d.state.redis, d.state.prefix, source)).catch(async (err: unknown) => {
      await this.recoverIfLost(err, heartbeat);
      throw err;
    });
    if (read.generation !== d.state.store.generation) d.state.adopt(read.generation);
    const held = d.state.partitions.hold(source, read.progress);
    if (read.progress === null || read.progress >= BigInt(firstOffset)) return null;
    this.restore(held, BigInt(firstOffset));
    return read.progress.toString();
  }

  /** A join: each assigned partition's producer is renewed once more, when it is first taken up. */
  joined(): void {
    this.joins++;
  }

  /**
   * Before a partition is held (after a join, a failed batch, a rebuild): its committed offset asked
   * of Kafka again, and, the first time since the join, a fresh transactional producer for it before
   * that, which fences any other holder of its id. A batch of the partition still in flight
   * elsewhere (another instance that had it before the rebalance) has then either committed, and the
   * offset read after this shows it, or been aborted: its dead letters and alerts are not published
   * twice. Later in the same generation (a failed batch, a rebuild) the producer is kept: renewing it
   * would fence whoever owns the partition now if this member has lost it unawares, where a kept
   * producer is refused by that owner's fence and asks the group (batch-retry.ts).
   */
  private async takeUp(source: SourcePartition, join: number): Promise<void> {
    const key = `${source.topic}/${source.partition}`;
    if (this.takenUp.get(key) === this.joins) await this.deps.output.fence(source.topic, source.partition);
    else {
      // Marked before: a renew that fails after its InitProducerId (reading the committed offset)
      // is finished by the next take-up's fence(), which initialises a producer that is not, and
      // does not fence the partition's holder again. A batch of an earlier join marks its own join,
      // which the current one does not take for its.
      this.takenUp.set(key, join);
      await this.deps.output.renew(source.topic, source.partition);
    }
    this.deps.clocks.forgetPartition(source.topic, source.partition);
  }

  /** Records processed by this instance. */
  get processed(): number {
    return this.observer.processed;
  }

  /** Records processed and batch latency percentiles of this instance (recent batches). */
  summary(): ReturnType<IngestObserver['summary']> {
    return this.observer.summary();
  }

  /**
   * One idempotent attempt at the whole batch: its stages in order (docs/state.md "One batch, in
   * order"), each returning what the next ones need. The state, detect, sink and checkpoint stages
   * share one failure path: memory then holds the attempt's events, so the partition is released.
   */
  private async attempt(
    topic: string,
    partition: number,
    records: readonly RawRecord[],
    nextOffset: string,
    heartbeat: () => Promise<void>,
    asMember: (offsets: OffsetCommit) => Promise<void>,
    join: number,
  ): Promise<BatchOutcome | { restoreFrom: string }> {
    const trace = new StepTrace();
    const source = { topic, partition };
    const first = records[0] as RawRecord;
    // A partition this process does not hold yet: from where its windows in Redis go on.
    const restoreFrom = await this.holdPartition(source, first.offset, heartbeat, join);
    if (restoreFrom !== null) return { restoreFrom };
    const { valid, deadLetters } = await this.decodeStage(source, records);
    const lateness = await this.latenessStage(source, first.offset, valid);
    trace.mark('decode');
    await step('mysql', () => this.prefetchRefdata(valid));
    trace.mark('refdata');
    // The store and partition state of this attempt: a rebuild may replace them meanwhile, and this
    // batch must checkpoint where it read (the MySQL fence then refuses it, and it is retried).
    const { store, partitions } = this.deps.state;
    const dedup = await step('mysql', () => this.dedup(valid));
    trace.mark('dedup');
    const held = partitions.heldPartition(source);
    if (held === undefined)
      throw new Error('the partition’s windows were released (a rebalance) while the batch ran; it is retried');
    const storeTrips = store.roundTrips;
    let windows: WindowsStage;
    let sink: SinkStage;
    let checkpointTrips: number;
    try {
      windows = await this.stateStage(source, held, dedup, { store, partitions });
      trace.mark('state');
      const decisions = this.decide(dedup.fresh.concat(dedup.replayed));
      trace.mark('detect');
      sink = await step('mysql', () =>
        writeBatch(
          this.deps.writePool ?? this.deps.pool,
          { fresh: dedup.fresh, replayed: dedup.replayed, duplicates: dedup.duplicates, decisions, stored: dedup.stored },
          { stateGeneration: store.generation, oneTrip: this.deps.writePool !== undefined },
        ),
      );
      trace.mark('mysql');
      this.faultPoint('after-mysql');
      checkpointTrips = await this.checkpointStage({ store, partitions }, held, nextOffset);
    } catch (err) {
      // Memory holds this attempt's events above the fences it read: forget the partition, so the
      // retry (or the next owner) starts from what Redis holds.
      partitions.release(topic, partition);
      // The MySQL fence (the state moved to another generation since this batch read it), a lost
      // marker or lost writes: rebuild, or learn the current generation, then retry the batch whole.
      await this.recoverIfLost(err, heartbeat);
      throw err;
    }
    trace.mark('checkpoint');
    this.observer.stateTrips(store.roundTrips - storeTrips + windows.progressTrips + checkpointTrips);
    const { alerts, commit } = await this.publishStage(source, nextOffset, {
      deadLetters,
      decisions: sink.decisions,
      replayed: dedup.replayed,
      firstOffset: first.offset,
      published: windows.published,
      maxEventTime: lateness.maxEventTime,
      asMember,
    });
    if (held.restoreTo !== null && BigInt(nextOffset) >= held.restoreTo) {
      this.deps.logger.info({ topic, partition, to: held.restoreTo.toString() }, 'the partition’s windows are restored');
      held.restoreTo = null;
    }
    this.faultPoint('after-commit');
    trace.mark('kafka');
    this.observer.attemptDone(records.length, trace, commit);
    // Counted, not filtered: the late duplicates (nearly always none) are looked up by position.
    const lateDuplicateKeys =
      sink.lateDuplicates.length === 0 ? null : new Set(sink.lateDuplicates.map((x) => positionKey(x.position)));
    const notLate = (p: PositionedTransaction) => lateDuplicateKeys === null || !lateDuplicateKeys.has(positionKey(p.position));
    let fresh = 0;
    let lateFresh = 0;
    for (const p of dedup.fresh)
      if (notLate(p)) {
        fresh++;
        if (p.late === true) lateFresh++;
      }
    let replayed = 0;
    for (const p of dedup.replayed) if (notLate(p)) replayed++;
    return {
      lateFresh,
      fresh,
      replayed,
      duplicates: dedup.duplicates.length + sink.lateDuplicates.length,
      deadLettered: deadLetters.length,
      inserted: sink.inserted,
      duplicatesRecorded: sink.duplicatesRecorded,
      decisions: sink.decisions,
      alerts,
      deadLetterClasses: deadLetters.map((dl) => dl.errorClass),
    };
  }

  /** Decode and validate: the schema's writers fetched once, each record valid or a dead letter. */
  private async decodeStage(source: SourcePartition, records: readonly RawRecord[]): Promise<ReturnType<typeof classify>> {
    const d = this.deps;
    await step('schema-registry', () => d.decoder.warmValues(records.map((r) => r.value)));
    return classify(records, {
      topic: source.topic,
      partition: source.partition,
      decode: (v) => d.decoder.decode(v),
      maxFutureSkewMs: d.maxFutureSkewMs,
      redact: d.redact,
      caps: d.inputCaps,
    });
  }

  /**
   * Event-time lateness, from the partition clock committed with the offset before the batch
   * (deterministic on replay): flags each late transaction, returns the clock after the batch.
   */
  private async latenessStage(
    source: SourcePartition,
    firstOffset: string,
    valid: PositionedTransaction[],
  ): Promise<{ maxEventTime: number }> {
    const d = this.deps;
    const startMax = await step('kafka', () => d.clocks.at(source.topic, source.partition, firstOffset));
    const clock = lateFlags(
      valid.map((v) => v.tx.event_time),
      startMax,
      d.allowedLatenessMs,
    );
    valid.forEach((v, i) => (v.late = clock.flags[i] === true));
    return { maxEventTime: clock.maxEventTime };
  }

  /**
   * The windows: the batch applied to the partition's state (read through from Redis), then the
   * marker check that proves the reads saw intact state, then each fresh transaction's features.
   */
  private async stateStage(
    source: SourcePartition,
    held: HeldPartition,
    dedup: Dedup,
    { store, partitions }: AttemptState,
  ): Promise<WindowsStage> {
    const d = this.deps;
    // After the reads: if every marker is still there, on this store's generation and not below
    // the progress this process last read or wrote, the reads saw intact state.
    const committed = d.clocks.committed(source.topic, source.partition);
    const check = () =>
      step('redis', () =>
        recordProgress(d.state.redis, d.state.prefix, { ...source, next: null, floor: held.progress, committed }),
      );
    // On one Redis the check is sent right behind the batch's reads, on the same connection, which
    // runs them in order: it still comes after them, and its answer arrives while the batch is
    // applied instead of a round trip later. A cluster's marker lives on every master, its reads on
    // some: there the check waits for them.
    let checking: Promise<Awaited<ReturnType<typeof check>>> | undefined;
    const afterReadsSent =
      d.state.redis instanceof Cluster
        ? undefined
        : () => {
            checking = check();
            // Awaited below (after the batch is applied), where its failure fails the batch; this
            // only keeps it from counting as unhandled while applyBatch's own failure goes first.
            // eslint-disable-next-line no-restricted-syntax
            checking.catch(() => undefined);
          };
    const stage = await step('redis', () => partitions.applyBatch(source, dedup.state, { afterReadsSent }));
    const reply = await (checking ?? check());
    if (reply.generation !== store.generation) {
      d.state.adopt(reply.generation);
      throw new StateLostError(
        `the state was rebuilt meanwhile (generation ${store.generation} -> ${reply.generation}); the batch is retried on the new one`,
      );
    }
    if (stage.anomalies.length > 0) {
      // Redis holds records MySQL does not (MySQL lost rows, or was restored): nothing of Redis
      // can be trusted for them, so the windows are rebuilt from MySQL.
      const a = stage.anomalies[0] as (typeof stage.anomalies)[number];
      await deleteMarker(d.state.redis, d.state.prefix);
      throw new StateLostError(
        `${stage.anomalies.length} new transaction(s) at or below a fence (first: ${a.kind} at fence ${a.fence}): Redis holds records MySQL does not; windows must be rebuilt from MySQL`,
      );
    }
    this.withFeatures(dedup, stage);
    return { published: reply.published, progressTrips: 1 };
  }

  /**
   * The checkpoint, then the progress that covers it (the same Redis keeps both or neither of a
   * suffix it loses), both after MySQL and before Kafka's commit; per commit interval, and at the
   * first batch of a partition this process holds (so a progress covers what its commits cover).
   * Returns its Redis round trips.
   */
  private async checkpointStage({ store, partitions }: AttemptState, held: HeldPartition, nextOffset: string): Promise<number> {
    held.next = nextOffset;
    const d = this.deps;
    if (partitions.checkpointDue(held, d.checkpointIntervalMs)) {
      const trips = await this.checkpointPartition({ store, partitions }, held, nextOffset);
      this.faultPoint('after-checkpoint');
      return trips;
    }
    // Between checkpoints, what other partitions read goes out at the shorter interval: their view
    // of it stays as fresh as before the checkpoint interval was raised, at a fraction of the writes.
    // Not while this process holds every partition: no other owner reads them, its own views are
    // live (docs/state.md "One live view per shared entity"), and they wait for the checkpoint as
    // accounts do.
    if (partitions.holdsEveryPartitionOf(held.source.topic)) return 0;
    if (!partitions.sharedCheckpointDue(held, d.sharedCheckpointIntervalMs)) return 0;
    return writeCheckpoint(store, partitions.checkpoint(held.source, { sharedOnly: true }));
  }

  /**
   * Dead letters, alerts and the offset in one Kafka transaction. A restore replays records below
   * the group's committed offset: their dead letters and alerts went out with that commit, and
   * committing a batch wholly below it would move the group back. (A manual offset reset moves the
   * committed offset itself back: what follows it is published again, dead letters included, as on
   * any replay from a committed offset.) Returns the alerts published and how the offsets went
   * (null: the batch is below the committed offset and commits nothing).
   */
  private async publishStage(
    source: SourcePartition,
    nextOffset: string,
    batch: PublishInput,
  ): Promise<{ alerts: number; commit: OffsetCommitKind | null }> {
    const d = this.deps;
    const { topic, partition } = source;
    // Kafka's answer, or this instance's own last commit if that is higher (Kafka shows a commit
    // once its markers are written, a few ms after it returned).
    const committedNow = d.output.committedAtLeast(topic, partition, d.clocks.committed(topic, partition));
    const belowCommitted = (offset: string) => committedNow !== undefined && BigInt(offset) < committedNow;
    const dlqMessages = deadLetterMessages(
      committedNow === undefined ? batch.deadLetters : batch.deadLetters.filter((x) => !belowCommitted(x.position.offset)),
      d.deadLetter.type,
      d.deadLetter.schemaId,
      'ingest',
    );
    // Alerts of records below the highest offset Kafka ever committed went out with that commit: a
    // replay (a restore, or after a manual offset reset) stores nothing new and publishes nothing again.
    // That offset is the higher of what Redis last heard of (a batch reports the commit before it, so
    // it lags by one) and the committed offset this partition's clock read from Kafka or committed
    // itself: a restore replays from the last checkpoint, up to a commit interval behind.
    const publishedUpTo =
      committedNow === undefined || (batch.published !== null && batch.published > committedNow) ? batch.published : committedNow;
    const alreadyPublished = new Set<string>();
    if (publishedUpTo !== null)
      for (const v of batch.replayed) if (BigInt(v.position.offset) < publishedUpTo) alreadyPublished.add(v.tx.transaction_id);
    const alerts = alertMessages(
      batch.decisions.filter((x) => !alreadyPublished.has(x.transactionId)),
      d.detection.alerts.type,
      d.detection.alerts.schemaId,
    );
    let commit: OffsetCommitKind | null = null;
    if (committedNow === undefined || BigInt(nextOffset) > committedNow) {
      // The messages cover the records from here: below it they went out with the commit.
      const from =
        committedNow !== undefined && committedNow > BigInt(batch.firstOffset) ? committedNow.toString() : batch.firstOffset;
      commit = await step('kafka', () =>
        d.output.commit(
          [
            { topic: d.deadLetter.topic, messages: dlqMessages },
            { topic: d.detection.alerts.topic, messages: alerts },
          ],
          { groupId: d.groupId, topic, partition, offset: nextOffset, metadata: encodeClock(batch.maxEventTime), from },
          // Nothing to publish (most small batches): the offsets go as the member's commit, not in a
          // transaction of offsets alone (TransactionalOutput.commit).
          batch.asMember,
        ),
      ).catch((err: unknown) => {
        // Committed further meanwhile (a fencing or a lost answer was resolved): the retry reads the
        // committed offset again and leaves out what that commit published.
        if (err instanceof CommittedMovedError) d.clocks.forgetPartition(topic, partition);
        throw err;
      });
      d.clocks.advance(topic, partition, nextOffset, batch.maxEventTime);
      d.metrics.offsetCommits.inc({ kind: commit });
    }
    return { alerts: alerts.length, commit };
  }

  /**
   * Rules and models on every transaction of the batch (pure and in memory). A replay decides
   * again here, but the sink keeps the stored decision, so what is published is the first one.
   */
  private decide(items: readonly PositionedTransaction[]): DecisionRecord[] {
    const { detection, metrics } = this.deps;
    const rules = detection.rules();
    const shadowRules = detection.shadowRules();
    const models = detection.models();
    const rollout = detection.rollout();
    // What the canary's accounts are decided with: the candidate where it replaces the rules or the model.
    const canaryRules = rollout?.rules ?? rules;
    const canaryModels: Models = rollout?.model ? { active: rollout.model, shadow: models.shadow } : models;
    const drift = detection.drift();
    const decidedAt = Date.now();
    const errors = { count: 0 };
    const out = items.map((v) => {
      const t = v.tx;
      const canary = rollout !== null && inCanary(t.account_id, rollout.shareBp);
      const rec = decideTransaction(
        {
          transactionId: t.transaction_id,
          accountId: t.account_id,
          eventTime: t.event_time,
          amountMinor: t.amount_minor,
          currency: t.currency,
          snapshot: v.snapshot ?? EMPTY_SNAPSHOT,
          tx: t,
        },
        canary ? canaryRules : rules,
        canary ? canaryModels : models,
        detection.policy,
        decidedAt,
        errors,
        shadowRules,
      );
      if (rollout !== null) rec.rollout = { id: rollout.id, arm: canary ? 'canary' : 'control' };
      if (
        models.active !== null &&
        drift !== null &&
        drift.modelVersion === models.active.model.version &&
        rec.modelScore !== null
      )
        drift.add(models.active.lastVector, rec.modelScore);
      return rec;
    });
    if (errors.count > 0) metrics.ruleErrors.inc(errors.count);
    return out;
  }

  /** Loads the reference data of a batch that is not cached: at most one query per table. */
  private async prefetchRefdata(valid: readonly PositionedTransaction[]): Promise<void> {
    const base = this.deps.baseCurrency;
    if (valid.some((v) => v.tx.card_bin !== null)) await this.deps.refdata.prefetchBins();
    await this.deps.refdata.prefetch({
      accounts: valid.map((v) => v.tx.account_id),
      merchants: valid.map((v) => v.tx.merchant_id),
      // One pair per currency, not per transaction (a batch holds a few currencies).
      fxPairs: [...new Set(valid.map((v) => v.tx.currency))].filter((c) => c !== base).map((c): [string, string] => [c, base]),
    });
  }

  /** What the (cached) reference data says about a transaction (one object: this runs per transaction). */
  private refsOf(tx: Transaction): StaticRefs {
    const { refdata, baseCurrency } = this.deps;
    return {
      account: refdata.account(tx.account_id),
      merchant: refdata.merchant(tx.merchant_id),
      fxRate: tx.currency === baseCurrency ? undefined : refdata.fxRate(tx.currency, baseCurrency, tx.event_time),
      binCountry: tx.card_bin === null ? undefined : refdata.binCountry(tx.card_bin),
    };
  }

  /** After a StateLostError: rebuilds the windows, or learns the current generation (a failure is logged; the caller retries). */
  private async recoverIfLost(err: unknown, heartbeat: () => Promise<void>): Promise<void> {
    if (err instanceof StateLostError)
      await this.deps.recoverState(heartbeat).catch((e: unknown) => this.deps.tolerate('state-rebuild', e));
  }

  /** Crash tests: SIGKILL, no clean-up at all, the n-th time a batch reaches `point` (TXMON_FAULT_KILL_AT). */
  private faultPoint(point: FaultPoint): void {
    const f = this.deps.faultKillAt;
    if (!f || f.point !== point) return;
    const hits = (this.faultHits.get(point) ?? 0) + 1;
    this.faultHits.set(point, hits);
    if (hits === f.n) {
      // Written synchronously: the logger's buffered output dies with the process.
      writeSync(2, `TXMON_FAULT_KILL_AT: killing this process at ${point} (hit ${hits}), a crash test\n`);
      process.kill(process.pid, 'SIGKILL');
    }
  }

  /**
   * Dedup on MySQL's unique key (one look-up for the batch): a transaction stored from this position
   * is a replay (it gets its stored features and decision back), one stored from another position
   * or seen earlier in this batch a duplicate (no effect but its audit row), any other fresh. Also
   * builds each one's input to the partition state: a replay's event as it was applied the first
   * time (its stored late flag and base amount), so a replay above a fence (a crash between MySQL
   * and the checkpoint) puts the same event into the windows.
   */
  private async dedup(valid: PositionedTransaction[]): Promise<Dedup> {
    const d = this.deps;
    const stored = await lookupStored(
      d.pool,
      valid.map((v) => v.tx.transaction_id),
      { timeoutMs: LOOKUP_TIMEOUT_MS, decoder: this.featureDecoder },
    );
    const fresh: PositionedTransaction[] = [];
    const replayed: PositionedTransaction[] = [];
    const duplicates: DuplicateDelivery[] = [];
    const state: StateTransaction[] = [];
    const statics: StaticFeatures[] = [];
    const freshIndex: number[] = [];
    // The first position of each id of the batch (as a key only once a second delivery needs it).
    const firstInBatch = new Map<string, KafkaPosition>();
    for (const v of valid) {
      const t = v.tx;
      const s = stored.get(t.transaction_id);
      const first = s !== undefined ? s.position : firstInBatch.get(t.transaction_id);
      const here = first === undefined ? '' : positionKey(v.position);
      const firstSeen = first === undefined ? undefined : positionKey(first);
      let verdict: StateTransaction['verdict'];
      if (firstSeen !== undefined && firstSeen !== here) {
        duplicates.push({ transactionId: t.transaction_id, position: v.position, firstSeen, detectedBy: 'mysql' });
        verdict = 'duplicate';
      } else if (s !== undefined) {
        v.late = s.late;
        replayed.push(v);
        verdict = 'replay';
      } else {
        fresh.push(v);
        freshIndex.push(state.length);
        verdict = 'fresh';
      }
      if (first === undefined) firstInBatch.set(t.transaction_id, v.position);
      const st = verdict === 'replay' ? (storedStatics(s as StoredTransaction) ?? this.staticsOf(t)) : this.staticsOf(t);
      statics.push(st);
      state.push({
        offset: v.position.offset,
        verdict,
        account: t.account_id,
        card: t.card_token,
        merchant: t.merchant_id,
        device: t.device_id,
        event: {
          eventTime: t.event_time,
          amountMinor: st.amount_base_minor,
          merchantId: t.merchant_id,
          country: t.merchant_country,
          lat: t.latitude,
          lon: t.longitude,
          late: v.late === true,
        },
      });
    }
    return { fresh, replayed, duplicates, stored, state, statics, freshIndex };
  }

  /**
   * Each fresh transaction's feature vector and snapshot from the windows after it; each replay's
   * from its stored row (the features it was decided on the first time).
   */
  private withFeatures(dedup: Dedup, stage: Pick<StateBatchLike, 'flat'>): void {
    const { metrics, featureLayout } = this.deps;
    const { fresh, replayed, stored, statics, freshIndex } = dedup;
    const missing = { fx_rate: 0, account: 0, merchant: 0 };
    fresh.forEach((v, j) => {
      const i = freshIndex[j] as number;
      const features = stage.flat(i);
      const st = statics[i] as StaticFeatures;
      if (features === null) throw new Error(`no features for new transaction ${v.tx.transaction_id}`);
      v.featureLayout = featureLayout;
      // Written straight into the row's SQL text by the sink (no vector text per transaction).
      v.writeFeatures = (out) => this.snapshots.writeFlat(st, features, out);
      v.snapshot = this.layout.flatSource(st, features);
      if (st.amount_base_minor === null) missing.fx_rate++;
      if (st.account_age_days === null) missing.account++;
      if (st.merchant_risk_tier === null) missing.merchant++;
    });
    // Counted per batch: a labelled inc per transaction costs a label lookup each.
    for (const [k, n] of Object.entries(missing)) if (n > 0) metrics.enrichmentMissing.inc({ missing: k }, n);
    for (const v of replayed) {
      const f = stored.get(v.tx.transaction_id)?.features;
      v.snapshot = f ? objectSource(f.object()) : EMPTY_SNAPSHOT;
    }
  }

  /** A transaction's static features from the (cached) reference data. */
  private staticsOf(t: Transaction): StaticFeatures {
    return staticFeatures(t, this.refsOf(t), this.deps.baseCurrency);
  }
}

/** Writes a checkpoint's contributions (none: no round trip) and confirms their outcomes; returns the Redis round trips. */
async function writeCheckpoint(store: EntityStore, cp: PartitionCheckpoint): Promise<number> {
  if (cp.writes.length === 0) {
    cp.confirm([]);
    return 0;
  }
  cp.confirm(await step('redis', () => store.checkpoint(cp.writes)));
  return 1;
}

/** A stored row's static features (null: stored without a snapshot). */
function storedStatics(s: StoredTransaction): StaticFeatures | null {
  if (s.features === null) return null;
  const o = s.features.object();
  return Object.fromEntries(STATIC_FEATURE_NAMES.map((k) => [k, o[k] ?? null])) as unknown as StaticFeatures;
}

type StateBatchLike = Awaited<ReturnType<PartitionState['applyBatch']>>;

/** The store and partition state an attempt read (a rebuild may replace IngestState's meanwhile). */
interface AttemptState {
  store: EntityStore;
  partitions: PartitionState;
}

/** What the state stage gives the later ones. */
interface WindowsStage {
  /** The highest offset Kafka ever committed for the partition (the marker's), null: none. */
  published: bigint | null;
  /** Its Redis round trips besides the store's own (the marker check). */
  progressTrips: number;
}

/** What the sink stage wrote. */
type SinkStage = Awaited<ReturnType<typeof writeBatch>>;

/** What the publish stage sends. */
interface PublishInput {
  deadLetters: ReturnType<typeof classify>['deadLetters'];
  decisions: SinkStage['decisions'];
  replayed: readonly PositionedTransaction[];
  /** The batch's first record's offset. */
  firstOffset: string;
  published: bigint | null;
  maxEventTime: number;
  /** The consumer group member's offset commit, for a batch with nothing to publish. */
  asMember: (offsets: OffsetCommit) => Promise<void>;
}

/** The dedup step's verdicts, and each valid transaction's input to the partition state. */
interface Dedup {
  fresh: PositionedTransaction[];
  replayed: PositionedTransaction[];
  duplicates: DuplicateDelivery[];
  stored: Map<string, StoredTransaction>;
  /** One per valid transaction, in offset order (the stage's index i). */
  state: StateTransaction[];
  /** Each valid transaction's static features, by the stage's index. */
  statics: StaticFeatures[];
  /** Each fresh transaction's index in `state`. */
  freshIndex: number[];
}

/** The dedup look-up's deadline: one that takes longer fails (the batch is retried). */
const LOOKUP_TIMEOUT_MS = 30_000;
