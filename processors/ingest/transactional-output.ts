/**
 * Kafka output of a processor, written in one Kafka transaction with the consumed offsets
 * (kafkajs transactions + sendOffsets): a read_committed consumer sees each output exactly once,
 * and the offsets move only when the output is committed.
 */
import { CompressionTypes, type Kafka, type Message, type Producer } from 'kafkajs';

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
import type { Logger } from '../../platform/logger.ts';

export interface OffsetCommit {
  groupId: string;
  topic: string;
  partition: number;
  /** The next offset to consume (last processed + 1). */
  offset: string;
}

export class TransactionalOutput {
  private producer: Producer | null = null;
  /** A producer runs one transaction at a time: batches of different partitions queue here. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly kafka: Kafka,
    /** Stable per instance, so a restarted instance fences its crashed predecessor's open transaction. */
    private readonly transactionalId: string,
    private readonly logger: Logger,
  ) {}

  async connect(): Promise<void> {
    if (this.producer) return;
    const producer = this.kafka.producer({ transactionalId: this.transactionalId, idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    this.producer = producer;
  }

  /** Sends `messages` and commits `offsets` atomically. On failure the transaction is aborted and the error rethrown. */
  commit(messages: ReadonlyArray<{ topic: string; messages: Message[] }>, offsets: OffsetCommit): Promise<void> {
    const run = this.queue.then(() => this.commitNow(messages, offsets));
    this.queue = run.catch(() => {});
    return run;
  }

  private async commitNow(messages: ReadonlyArray<{ topic: string; messages: Message[] }>, offsets: OffsetCommit): Promise<void> {
    await this.connect();
    const producer = this.producer as Producer;
    const tx = await producer.transaction();
    try {
      for (const m of messages) {
        for (const chunk of chunkBySize(m.messages, MAX_CHUNK_BYTES)) {
          await tx.send({ topic: m.topic, messages: chunk, compression: CompressionTypes.GZIP });
        }
      }
      await tx.sendOffsets({
        consumerGroupId: offsets.groupId,
        topics: [{ topic: offsets.topic, partitions: [{ partition: offsets.partition, offset: offsets.offset }] }],
      });
      await tx.commit();
    } catch (err) {
      try {
        await tx.abort();
      } catch (abortErr) {
        // The producer is in an unknown state: drop it; the next commit starts a fresh one,
        // whose initTransactions fences and aborts whatever this one left open.
        this.logger.warn({ err: abortErr }, 'aborting the Kafka transaction failed; recreating the producer');
        await this.reset();
      }
      throw err;
    }
  }

  private async reset(): Promise<void> {
    const p = this.producer;
    this.producer = null;
    await p?.disconnect().catch(() => {});
  }

  async disconnect(): Promise<void> {
    await this.reset();
  }
}
