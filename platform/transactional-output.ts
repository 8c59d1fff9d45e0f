/**
 * Kafka output of a processor, written in one Kafka transaction with the consumed offsets
 * (kafkajs transactions + sendOffsets): a read_committed consumer sees each output exactly once,
 * and the offsets move only when the output is committed.
 */
import { CompressionTypes, type Kafka, type Message, type PartitionOffset, type Producer } from 'kafkajs';

/** Bytes of keys and values per produce request: well under the broker's default 1 MB record-batch limit. */
export const MAX_CHUNK_BYTES = 256 * 1024;

/** Splits messages into runs of at most `maxBytes` (a single larger message goes alone). */
export function chunkBySize(messages: readonly Message[], maxBytes: number): Message[][] {
  const chunks: Message[][] = [];
  let current: Message[] = [];
  let size = 0;
  for (const m of messages) {
    const bytes = byteLength(m.key) + byteLength(m.value);
    if (current.length > 0 && size + bytes > maxBytes) {
      chunks.push(current);
      current = [];
      size = 0;
    }
    current.push(m);
    size += bytes;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

function byteLength(v: Buffer | string | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'string' ? Buffer.byteLength(v) : v.length;
}
import type { Logger } from './logger.ts';

export interface OffsetCommit {
  groupId: string;
  topic: string;
  partition: number;
  /** The next offset to consume (last processed + 1). */
  offset: string;
  /** Stored with the offset in the same transaction (the partition's event-time clock). */
  metadata?: string | null;
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

  constructor(
    private readonly kafka: Kafka,
    /** Prefix of the transactional ids: `<prefix>-<topic>-<partition>`. */
    private readonly idPrefix: string,
    private readonly logger: Logger,
  ) {}

  /** Checks that the broker is reachable and transactions work, with the first partition's producer. */
  async connect(topic: string): Promise<void> {
    await this.producer(topic, 0);
  }

  private producer(topic: string, partition: number): Promise<Producer> {
    const key = `${topic}-${partition}`;
    let p = this.producers.get(key);
    if (!p) {
      const producer = this.kafka.producer({
        transactionalId: `${this.idPrefix}-${key}`,
        idempotent: true,
        maxInFlightRequests: 1,
      });
      p = producer.connect().then(() => producer);
      p.catch(() => this.producers.delete(key));
      this.producers.set(key, p);
    }
    return p;
  }

  /** Sends `messages` and commits `offsets` atomically. On failure the transaction is aborted and the error rethrown. */
  commit(messages: ReadonlyArray<{ topic: string; messages: Message[] }>, offsets: OffsetCommit): Promise<void> {
    const key = `${offsets.topic}-${offsets.partition}`;
    const run = (this.queues.get(key) ?? Promise.resolve()).then(async () => {
      await this.commitNow(key, messages, offsets);
      const prev = this.committed.get(key);
      if (prev === undefined || BigInt(offsets.offset) > prev) this.committed.set(key, BigInt(offsets.offset));
    });
    this.queues.set(
      key,
      run.catch(() => {}),
    );
    return run;
  }

  /**
   * Moves the committed offset past records the consumer skipped (transaction markers, aborted
   * records of a transactional upstream), unless this instance already committed that far.
   */
  async commitSkipped(offsets: OffsetCommit): Promise<void> {
    const key = `${offsets.topic}-${offsets.partition}`;
    const prev = this.committed.get(key);
    if (prev !== undefined && BigInt(offsets.offset) <= prev) return;
    await this.commit([], offsets);
  }

  private async commitNow(
    key: string,
    messages: ReadonlyArray<{ topic: string; messages: Message[] }>,
    offsets: OffsetCommit,
  ): Promise<void> {
    const producer = await this.producer(offsets.topic, offsets.partition);
    const tx = await producer.transaction();
    try {
      for (const m of messages) {
        for (const chunk of chunkBySize(m.messages, MAX_CHUNK_BYTES)) {
          await tx.send({ topic: m.topic, messages: chunk, compression: CompressionTypes.GZIP });
        }
      }
      await tx.sendOffsets({
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
      try {
        await tx.abort();
      } catch (abortErr) {
        // Unknown state, or fenced by the partition's new owner: drop this producer; the next
        // commit for the partition starts a fresh one, whose initialisation aborts what was left open.
        this.logger.warn({ err: abortErr, partition: key }, 'aborting the Kafka transaction failed; recreating the producer');
        await this.drop(key);
      }
      throw err;
    }
  }

  private async drop(key: string): Promise<void> {
    const p = this.producers.get(key);
    this.producers.delete(key);
    await p?.then((producer) => producer.disconnect()).catch(() => {});
  }

  async disconnect(): Promise<void> {
    await Promise.all([...this.producers.keys()].map((k) => this.drop(k)));
  }
}
