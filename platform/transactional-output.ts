/**
 * Kafka output of a processor, written in one Kafka transaction with the consumed offsets
 * (kafkajs transactions + sendOffsets): a read_committed consumer sees each output exactly once,
 * and the offsets move only when the output is committed. Offsets with no output may go as the
 * consumer group member's own commit instead (`commit`'s `asMember`).
 */
import {
  CompressionTypes,
  type Admin,
  type Kafka,
  type Message,
  type PartitionOffset,
  type Producer,
  type Transaction,
} from 'kafkajs';

/** Bytes of keys and values per produce request: well under the broker's default 1 MB record-batch limit. */
export const MAX_CHUNK_BYTES = 256 * 1024;

/**
 * Retries of the transactional producers. Right after a commit the broker answers the partition's
 * next transaction with CONCURRENT_TRANSACTIONS until its commit markers are written (about a
 * millisecond on this machine); kafkajs retries that with the client's backoff, whose first wait
 * (200 ms) was the p99 of a bare transaction: send 1 + sendOffsets + commit in a loop, p50/p99
 * 10.0/256 ms with a 200 ms first retry. A first wait of 10 ms made it 12.3–12.8/18.7–19.2 ms,
 * 2 ms 4.2–4.7/9.0–12.5 ms, 1 ms 3.2/7.9–8.6 ms, with as many AddPartitionsToTxn requests each
 * (~1.75 a transaction: one retry, rarely two; docs/performance.md, "Kafka transactions"). With
 * 14 retries a broker that is really gone is retried about as long as with 10 ms and 12 (kafkajs's
 * jittered backoff, each wait capped by TXMON_RETRY_MAX_BACKOFF_MS's default 10 s: median ~29 s
 * against ~31 s, simulated).
 */
export const TRANSACTION_RETRY = Object.freeze({ initialRetryTime: 1, retries: 14 });

/**
 * A produce request of fewer bytes goes uncompressed: gzip's set-up per call (its window and state)
 * costs more CPU than it saves on the few alerts and dead letters of a batch, while a large run
 * (a backlog's batches, a replay) is still compressed.
 */
export const COMPRESS_FROM_BYTES = 16 * 1024;

/** The compression of one produce run: gzip from COMPRESS_FROM_BYTES of keys and values, none below. */
export function compressionFor(run: ReadonlyArray<{ messages: readonly Message[] }>): CompressionTypes {
  let bytes = 0;
  for (const t of run) for (const m of t.messages) bytes += byteLength(m.key) + byteLength(m.value);
  return bytes >= COMPRESS_FROM_BYTES ? CompressionTypes.GZIP : CompressionTypes.None;
}

/**
 * The messages of several topics as produce requests: runs of at most `maxBytes` over all topics in
 * order (a single larger message goes alone), each run's messages grouped by topic in the order the
 * topics come. One run is one produce request for every topic in it: a transaction with dead letters
 * and alerts adds both partitions and produces both in one round trip each, not one per topic.
 */
export function produceRuns(
  outputs: ReadonlyArray<{ topic: string; messages: readonly Message[] }>,
  maxBytes: number,
): Array<Array<{ topic: string; messages: Message[] }>> {
  const runs: Array<Array<{ topic: string; messages: Message[] }>> = [];
  let current: Array<{ topic: string; messages: Message[] }> = [];
  let size = 0;
  for (const o of outputs) {
    for (const m of o.messages) {
      const bytes = byteLength(m.key) + byteLength(m.value);
      if (current.length > 0 && size + bytes > maxBytes) {
        runs.push(current);
        current = [];
        size = 0;
      }
      const last = current[current.length - 1];
      if (last !== undefined && last.topic === o.topic) last.messages.push(m);
      else current.push({ topic: o.topic, messages: [m] });
      size += bytes;
    }
  }
  if (current.length > 0) runs.push(current);
  return runs;
}

function byteLength(v: Buffer | string | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'string' ? Buffer.byteLength(v) : v.length;
}
import { randomBytes } from 'node:crypto';
import { DependencyError, errorMessage } from './errors.ts';
import type { Logger } from './logger.ts';
import type { Tolerate } from './tolerated.ts';
import { backoffDelay, sleep } from './retry.ts';

/**
 * This instance's producer for a partition was fenced: another holder initialised the partition's
 * transactional id, so another instance took the partition up (or the broker aborted a transaction
 * past its timeout). Retriable, but the instance does not initialise the id again (which would fence
 * the new owner in turn, and both would commit the same records) until the consumer group has shown
 * that this member still owns the partition (`ownershipConfirmed`, after a heartbeat sent after the
 * fencing: batch-retry.ts) or has given it to this member again (`forgetFences` at a join).
 */
export class PartitionFencedError extends DependencyError {
  constructor(
    readonly topic: string,
    readonly partition: number,
    message: string,
    cause?: unknown,
  ) {
    super('kafka', message, cause);
  }
}

/**
 * The partition's committed offset is past the first record of the messages a commit was given
 * (`OffsetCommit.from`), though short of the commit's own offset: another holder of the partition,
 * or this instance's own commit whose answer was lost, committed part of the batch meanwhile, and
 * its messages for those records went out with that commit. Nothing is sent; the caller builds the
 * batch's messages again from the committed offset (retriable).
 */
export class CommittedMovedError extends DependencyError {
  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly committed: bigint,
    from: string,
  ) {
    super(
      'kafka',
      `${topic}-${partition} was committed up to ${committed} meanwhile, past the batch's first unpublished record ${from}: its messages are built again from there`,
    );
  }
}

/** How a commit went: with its messages in a Kafka transaction, or as the group member's offset commit. */
export type OffsetCommitKind = 'transaction' | 'member';

export interface OffsetCommit {
  groupId: string;
  topic: string;
  partition: number;
  /** The next offset to consume (last processed + 1). */
  offset: string;
  /** Stored with the offset in the same transaction (the partition's event-time clock). */
  metadata?: string | null;
  /**
   * The first record the commit's messages cover (the records before it were committed already and
   * left out). When the partition turns out committed past it (learned after a fencing or a lost
   * answer), the commit throws CommittedMovedError instead of sending those records' messages again.
   */
  from?: string;
}

/**
 * One transactional producer per input partition, with a transactional id derived from the group,
 * topic and partition (the classic exactly-once pattern). Whoever owns the partition now — a
 * restarted instance, or the member it moved to in a rebalance — initialises the same id, which
 * aborts the previous owner's open transaction and fences it: a stale instance can no longer
 * commit output or offsets for that partition. Several instances on one host need no settings.
 */
export class TransactionalOutput {
  private readonly producers = new Map<string, Promise<Producer>>();
  /** Per partition, the tail of its queue of commits: one transaction at a time, in call order. */
  private readonly queues = new Map<string, Promise<unknown>>();
  /** Per partition, the highest offset committed by this instance. */
  private readonly committed = new Map<string, bigint>();
  /** Producers whose transactional id is initialised (InitProducerId): kafkajs does it at the first transaction, not at connect. */
  private readonly initialised = new WeakSet<Producer>();
  /** Per partition, when this instance's producer was fenced, until the group confirms this member owns it. */
  private readonly fencedAt = new Map<string, number>();
  /** Why a partition waits for the group's confirmation, when not a fencing by another instance. */
  private readonly fencedWhy = new Map<string, string>();
  /**
   * Per partition (to its group), whether a transaction may have landed unseen: its commit failed
   * and so did the abort (the broker refuses to abort a commit it has begun, e.g. one whose answer
   * was lost with the coordinator), or another instance held the id meanwhile (a fencing). The next
   * fence or commit of the partition first reads the group's committed offset (resolveUncertain).
   */
  private readonly uncertain = new Map<string, string>();
  /** Per partition, the consumer group its offsets are committed for (the last commit's). */
  private readonly groups = new Map<string, string>();
  /** Reads committed offsets after an uncertain commit (created at the first one). */
  private admin: Promise<Admin> | null = null;

  constructor(
    private readonly kafka: Kafka,
    /** Prefix of the transactional ids: `<prefix>-<topic>-<partition>`. */
    private readonly idPrefix: string,
    private readonly logger: Logger,
    /** Counts a producer that did not close cleanly (it is dropped either way); logged at debug without it. */
    private readonly tolerate?: Tolerate,
  ) {}

  /**
   * Checks that the broker is reachable and transactions work, with a transactional id of this
   * process alone (a partition's id would fence the instance that owns the partition now).
   */
  async connect(): Promise<void> {
    const probe = this.kafka.producer({
      transactionalId: `${this.idPrefix}-probe-${process.pid}-${randomBytes(4).toString('hex')}`,
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await probe.connect();
    try {
      const tx = await probe.transaction();
      await tx.abort();
    } finally {
      await probe.disconnect();
    }
  }

  /**
   * Initialises the partition's transactional producer now (InitProducerId with its transactional
   * id): from here on, an instance that owned the partition before can no longer commit output or
   * offsets for it, and a transaction it left open is aborted (or, if it was already committing,
   * finished) before this returns. Once per producer: later calls return at once. Call before
   * effects that a stale owner must not race (the reconcile processor's outbox). In turn with the
   * partition's commits (a commit past skipped records may be retrying in the background).
   */
  fence(topic: string, partition: number): Promise<void> {
    return this.serialized(`${topic}-${partition}`, () => this.fenceNow(topic, partition));
  }

  /** fence(), from inside the partition's queue. */
  private async fenceNow(topic: string, partition: number): Promise<void> {
    const producer = await this.producer(topic, partition);
    if (!this.initialised.has(producer)) {
      // kafkajs initialises the transactional id at the first transaction() (connect() does not);
      // aborting a transaction that registered nothing sends no request.
      const tx = await producer.transaction();
      this.initialised.add(producer);
      await tx.abort();
    }
    await this.resolveUncertain(topic, partition);
  }

  /**
   * A fresh producer for the partition, initialised at once (fence): fences every other holder of
   * its transactional id, this instance's earlier producer included. The ingest calls it when it
   * takes a partition up (after a join or a failed batch), before reading the committed offset: a
   * batch another instance (or this one, before the rebalance) still had in flight is then either
   * committed, and seen in that offset, or aborted.
   */
  renew(topic: string, partition: number): Promise<void> {
    const key = `${topic}-${partition}`;
    return this.serialized(key, async () => {
      await this.drop(key);
      await this.fenceNow(topic, partition);
    });
  }

  /** Runs `work` after everything queued before it for the partition `key`, whether that failed or not. */
  private serialized(key: string, work: () => Promise<void>): Promise<void> {
    const run = (this.queues.get(key) ?? Promise.resolve()).then(work);
    // The queue's tail only orders the next work: `run` itself, with its failure, goes to the caller.
    // eslint-disable-next-line no-restricted-syntax -- not swallowed: the caller awaits `run`
    const tail = run.catch(() => {});
    this.queues.set(key, tail);
    return run;
  }

  /**
   * The highest offset this instance committed for the partition (undefined: none). Kafka's
   * OffsetFetch may not show it yet right after the commit returned: EndTxn is answered once the
   * commit is decided, and the offsets become readable when its markers are written, a few ms later
   * (seconds while a broker fails over). A reader of the committed offset takes the higher of the two.
   */
  committedHere(topic: string, partition: number): bigint | undefined {
    return this.committed.get(`${topic}-${partition}`);
  }

  /**
   * The partition's committed offset as far as this instance knows: the later of `read` (Kafka's
   * answer; undefined: none) and its own last commit (committedHere). What both processors take as
   * the boundary below which a batch's output went out already.
   */
  committedAtLeast(topic: string, partition: number, read: bigint | undefined): bigint | undefined {
    return laterOffset(read, this.committedHere(topic, partition));
  }

  /** When this instance's producer for the partition was fenced (ms since the epoch), while not confirmed since. */
  fencedSince(topic: string, partition: number): number | undefined {
    return this.fencedAt.get(`${topic}-${partition}`);
  }

  /**
   * The group showed this member still owns the partition after its producer was fenced: it may
   * initialise the id again. Whoever held the id meanwhile may have committed, so the partition's
   * next fence or commit reads the committed offset first.
   */
  ownershipConfirmed(topic: string, partition: number): void {
    const key = `${topic}-${partition}`;
    this.fencedAt.delete(key);
    this.fencedWhy.delete(key);
    const group = this.groups.get(key);
    if (group !== undefined) this.uncertain.set(key, group);
  }

  /**
   * A join: the partitions it assigns to this member wait for no confirmation any more (a partition
   * fenced by its new owner, and not assigned here, stays fenced). Each is read as after a fencing.
   */
  forgetFences(assignment: Readonly<Record<string, readonly number[]>>): void {
    for (const [topic, partitions] of Object.entries(assignment))
      for (const partition of partitions)
        if (this.fencedAt.has(`${topic}-${partition}`)) this.ownershipConfirmed(topic, partition);
  }

  private producer(topic: string, partition: number): Promise<Producer> {
    const key = `${topic}-${partition}`;
    const fenced = this.fencedAt.get(key);
    if (fenced !== undefined)
      return Promise.reject(
        new PartitionFencedError(
          topic,
          partition,
          `this instance's producer for ${key} was ${this.fencedWhy.has(key) ? `dropped ${Date.now() - fenced} ms ago (${this.fencedWhy.get(key)})` : `fenced ${Date.now() - fenced} ms ago (another instance took the partition up)`}; it is not initialised again until the group confirms this member still owns the partition`,
        ),
      );
    let p = this.producers.get(key);
    if (!p) {
      const producer = this.kafka.producer({
        transactionalId: `${this.idPrefix}-${key}`,
        idempotent: true,
        maxInFlightRequests: 1,
        retry: TRANSACTION_RETRY,
      });
      p = producer.connect().then(() => producer);
      p.catch(() => this.producers.delete(key));
      this.producers.set(key, p);
    }
    return p;
  }

  /**
   * Sends `messages` and commits `offsets` atomically. On failure the transaction is aborted and the
   * error rethrown.
   *
   * `asMember`, when given, is the consumer group member's own offset commit (kafkajs's
   * `commitOffsetsIfNecessary`: OffsetCommit with the member's id and generation). With no messages
   * to send, the offsets then go that way instead of in a transaction of offsets alone: one request
   * and one record on the broker instead of four requests, the transaction log's two records and the
   * commit marker (docs/performance.md, "Offsets alone"). It is as safe for offsets alone: there is
   * no output to keep atomic with them, and a stale owner's commit is refused by the group coordinator
   * (its generation is gone once the partition has another owner), as its transaction would be by the
   * fence. Kafka orders a member's commit after a transactional commit still writing its markers by
   * the position of their records, so the later one stands (`tests/integration/transactional-output.test.ts`).
   * Resolves with the way the offsets went.
   */
  async commit(
    messages: ReadonlyArray<{ topic: string; messages: Message[] }>,
    offsets: OffsetCommit,
    asMember?: (offsets: OffsetCommit) => Promise<void>,
  ): Promise<OffsetCommitKind> {
    const kind = asMember !== undefined && messages.every((m) => m.messages.length === 0) ? 'member' : 'transaction';
    await this.enqueue(offsets, false, messages, kind === 'member' ? asMember : undefined);
    return kind;
  }

  /** One transaction at a time per partition, in call order; `onlyIfAhead` skips a commit that would not move the offset forward. */
  private enqueue(
    offsets: OffsetCommit,
    onlyIfAhead: boolean,
    messages: ReadonlyArray<{ topic: string; messages: Message[] }>,
    /** The member's commit to use instead of a transaction (the caller decided: nothing to send). */
    asMember?: (offsets: OffsetCommit) => Promise<void>,
  ): Promise<void> {
    const key = `${offsets.topic}-${offsets.partition}`;
    return this.serialized(key, async () => {
      const prev = this.committed.get(key);
      if (onlyIfAhead && prev !== undefined && BigInt(offsets.offset) <= prev) return;
      if (asMember !== undefined) await asMember(offsets);
      else await this.commitNow(key, messages, offsets);
      if (prev === undefined || BigInt(offsets.offset) > (this.committed.get(key) ?? -1n))
        this.committed.set(key, BigInt(offsets.offset));
    });
  }

  /**
   * Moves the committed offset past records the consumer skipped (transaction markers, aborted
   * records of a transactional upstream), unless this instance already committed that far by the
   * time its turn in the partition's queue comes (never backwards).
   */
  commitSkipped(offsets: OffsetCommit): Promise<void> {
    return this.enqueue(offsets, true, []);
  }

  private async commitNow(
    key: string,
    messages: ReadonlyArray<{ topic: string; messages: Message[] }>,
    offsets: OffsetCommit,
  ): Promise<void> {
    this.groups.set(key, offsets.groupId);
    if (this.uncertain.has(key)) await this.fenceNow(offsets.topic, offsets.partition);
    // Kafka holds an offset at or past this one from this instance (or, read after an uncertain
    // commit, from whoever committed): the records before it, this batch's among them, went out with it.
    const own = this.committed.get(key);
    if (own !== undefined && BigInt(offsets.offset) <= own) {
      this.logger.warn(
        { partition: key, committed: own.toString(), offset: offsets.offset },
        'the partition is committed past this batch already (its messages went out with that commit): not sent again',
      );
      return;
    }
    if (own !== undefined && offsets.from !== undefined && own > BigInt(offsets.from))
      throw new CommittedMovedError(offsets.topic, offsets.partition, own, offsets.from);
    const producer = await this.producer(offsets.topic, offsets.partition);
    const tx = await producer.transaction();
    this.initialised.add(producer);
    let sent = false;
    try {
      for (const topicMessages of produceRuns(messages, MAX_CHUNK_BYTES))
        await tx.sendBatch({ topicMessages, compression: compressionFor(topicMessages) });
      sent = true;
      await sendOffsets(tx, {
        consumerGroupId: offsets.groupId,
        // kafkajs passes `metadata` through to TxnOffsetCommit (its typings omit it).
        topics: [
          {
            topic: offsets.topic,
            partitions: [
              { partition: offsets.partition, offset: offsets.offset, metadata: offsets.metadata ?? null } as PartitionOffset,
            ],
          },
        ],
      });
      await tx.commit();
    } catch (err) {
      let fenced = isFencing(err);
      let aborted = false;
      try {
        await tx.abort();
        aborted = true;
      } catch (abortErr) {
        // Unknown state, or fenced by the partition's new owner: drop this producer; the next
        // commit for the partition starts a fresh one, whose initialisation aborts what was left open
        // or, if the coordinator had begun to commit it, waits until it is committed: that commit
        // then asks Kafka whether this one landed before it sends the same messages again.
        this.logger.warn({ err: abortErr, partition: key }, 'aborting the Kafka transaction failed; recreating the producer');
        fenced ||= isFencing(abortErr);
        if (!fenced) {
          // It may have landed, and this member may have lost the partition with the coordinator
          // that lost the answer: no new producer before the group confirms this member (like a
          // fencing), then the committed offset is read before anything is sent again.
          this.uncertain.set(key, offsets.groupId);
          this.fencedAt.set(key, Date.now());
          this.fencedWhy.set(key, 'the transaction failed and so did its abort: it may have landed');
        }
        await this.drop(key);
      }
      if (aborted && !sent && !fenced) {
        // A send failed, and kafkajs wound its partitions' sequence numbers back, though the
        // broker may have written (and now aborted) records whose answer was lost. The same
        // producer would send the batch again with those numbers in the same epoch, and the broker
        // would take it for a duplicate of the aborted records and write nothing: the commit would
        // carry the offsets without the messages. A fresh producer (a new epoch, sequences from 0)
        // sends it, once the group confirms this member still owns the partition (initialising
        // the id at once would fence its new owner if it had lost it meanwhile).
        this.logger.warn(
          { err, partition: key },
          'a send of the transaction failed; it was aborted, and the partition gets a fresh producer once the group confirms this member',
        );
        this.fencedAt.set(key, Date.now());
        this.fencedWhy.set(key, 'a send failed and its transaction was aborted: its sequence numbers cannot be reused');
        await this.drop(key);
        // Straight to the retry loop's ownership check (batch-retry.ts), not one more attempt first.
        throw new PartitionFencedError(
          offsets.topic,
          offsets.partition,
          `a send of the partition's transaction failed (${errorMessage(err)}); it was aborted, and a fresh producer sends the batch once the group confirms this member`,
          err,
        );
      }
      if (fenced) {
        // Another instance initialised this partition's id (it owned the partition meanwhile): this
        // producer is dead. Retried only once the group has confirmed that this member still owns
        // the partition (its retry loop asks, batch-retry.ts) or given up at the rebalance if it
        // does not; initialising the id again at once would fence the new owner in turn, and both
        // would commit the same records.
        this.fencedAt.set(key, Date.now());
        this.fencedWhy.delete(key);
        await this.drop(key);
        throw new PartitionFencedError(
          offsets.topic,
          offsets.partition,
          `the partition's transactional producer was fenced (${errorMessage(err)})`,
          err,
        );
      }
      throw err;
    }
  }

  /**
   * After an uncertain commit or a fencing (the producer is initialised anew here, by fence():
   * InitProducerId returns once the coordinator has finished the transaction left open, committed
   * or aborted): reads the group's committed offset and keeps it as this instance's if higher, so
   * commitNow sends nothing it covers and readers (committedHere) see it.
   */
  private async resolveUncertain(topic: string, partition: number): Promise<void> {
    const key = `${topic}-${partition}`;
    const groupId = this.uncertain.get(key);
    if (groupId === undefined) return;
    const pending = (this.admin ??= (async () => {
      const admin = this.kafka.admin();
      await admin.connect();
      return admin;
    })());
    // A failed connect is not kept: the next uncertain commit tries again.
    const admin = await pending.catch((err: unknown) => {
      if (this.admin === pending) this.admin = null;
      throw err;
    });
    const [t] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const read = t?.partitions.find((p) => p.partition === partition)?.offset;
    const before = this.committed.get(key);
    if (read !== undefined && BigInt(read) >= 0n && (before === undefined || BigInt(read) > before))
      this.committed.set(key, BigInt(read));
    this.uncertain.delete(key);
    this.logger.warn(
      { partition: key, committed: read, before: before?.toString() },
      'read the committed offset after a commit whose answer was lost, a fencing or a failed send: what it covers is not sent again',
    );
  }

  private async drop(key: string): Promise<void> {
    const p = this.producers.get(key);
    this.producers.delete(key);
    await p
      ?.then((producer) => producer.disconnect())
      .catch((err: unknown) =>
        this.tolerate
          ? this.tolerate('producer-close', err, { partition: key })
          : this.logger.debug({ err, partition: key }, 'closing a transactional producer failed (it is dropped either way)'),
      );
  }

  async disconnect(): Promise<void> {
    const admin = this.admin;
    this.admin = null;
    await Promise.all([
      ...[...this.producers.keys()].map((k) => this.drop(k)),
      admin
        ?.then((a) => a.disconnect())
        .catch((err: unknown) => this.logger.debug({ err }, 'closing the offsets admin failed (it is dropped either way)')),
    ]);
  }
}

/** The later of two committed offsets, either unknown (undefined). */
export function laterOffset(a: bigint | undefined, b: bigint | undefined): bigint | undefined {
  return b !== undefined && (a === undefined || b > a) ? b : a;
}

/**
 * A consumer group member's offset commit for `TransactionalOutput.commit`, from kafkajs's eachBatch
 * `commitOffsetsIfNecessary` (given offsets, it commits them at once, with the member's id and
 * generation, and throws what the coordinator answers: a rebalance, a stale generation).
 */
export function memberCommit(
  commitOffsetsIfNecessary: (offsets: { topics: Array<{ topic: string; partitions: PartitionOffset[] }> }) => Promise<void>,
): (offsets: OffsetCommit) => Promise<void> {
  return (o) =>
    commitOffsetsIfNecessary({
      topics: [
        {
          topic: o.topic,
          // kafkajs passes `metadata` through to OffsetCommit (its typings omit it).
          partitions: [{ partition: o.partition, offset: o.offset, metadata: o.metadata ?? null } as PartitionOffset],
        },
      ],
    });
}

/**
 * `tx.sendOffsets`, retried while the broker answers CONCURRENT_TRANSACTIONS. kafkajs retries that
 * answer on AddPartitionsToTxn (a send) but not on AddOffsetsToTxn, so a transaction of offsets
 * alone (a batch without alerts or dead letters, `commitSkipped`) begun while the partition's
 * previous commit still writes its markers failed, and its whole batch was retried after a backoff
 * (`bench/kafka-clients.ts` counted 327 such answers in 1,500 back-to-back transactions). The
 * transaction stays open meanwhile (kafkajs keeps it TRANSACTING), so only the call is repeated.
 */
async function sendOffsets(tx: Transaction, offsets: Parameters<Transaction['sendOffsets']>[0]): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await tx.sendOffsets(offsets);
    } catch (err) {
      if (attempt >= TRANSACTION_RETRY.retries || !isConcurrentTransactions(err)) throw err;
      await sleep(backoffDelay(attempt + 1, TRANSACTION_RETRY.initialRetryTime, 1_000, Math.random));
    }
  }
}

/** Whether a Kafka error is the broker's CONCURRENT_TRANSACTIONS (the previous transaction is still completing), however kafkajs wraps it. */
export function isConcurrentTransactions(err: unknown): boolean {
  return anyWrapped(err, (e) => e.type === 'CONCURRENT_TRANSACTIONS');
}

/** Whether a Kafka error means the producer was fenced by a newer one with the same transactional id. */
export function isFencing(err: unknown): boolean {
  return anyWrapped(
    err,
    (e) =>
      e.type === 'INVALID_PRODUCER_EPOCH' ||
      e.type === 'PRODUCER_FENCED' ||
      (typeof e.message === 'string' && /fence|old epoch|producer epoch/i.test(e.message)),
  );
}

/** What the error tests read of a Kafka error and of the errors it wraps. */
interface WrappedError {
  type?: unknown;
  message?: unknown;
  cause?: unknown;
  originalError?: unknown;
}

/** Whether `test` holds for the error or one it wraps (its cause, kafkajs's originalError), five deep at most. */
function anyWrapped(err: unknown, test: (e: WrappedError) => boolean): boolean {
  let e = err as WrappedError | null | undefined;
  for (let depth = 0; e && depth < 5; depth++) {
    if (test(e)) return true;
    e = (e.cause ?? e.originalError) as WrappedError | null | undefined;
  }
  return false;
}
