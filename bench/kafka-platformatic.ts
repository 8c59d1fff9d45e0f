/**
 * The @platformatic/kafka side of bench/kafka-clients.ts: one transactional producer for the whole
 * process and one consumer in the group whose offsets the transactions commit. Its TxnOffsetCommit
 * (v4, KIP-447) carries the consumer's group generation and member id, so one producer can commit
 * the offsets of every partition the consumer owns, and a member that lost them in a rebalance is
 * fenced by the group instead of by a transactional id per partition.
 * Import only on Node ≥ 22.22 (bench/platformatic-node.ts).
 */
import {
  Consumer,
  FetchIsolationLevels,
  MessagesStreamModes,
  Producer,
  type Message,
  type MessagesStream,
} from '@platformatic/kafka';
import type { TxmonConfig } from '../config/config.ts';
import { TRANSACTION_RETRY } from '../platform/transactional-output.ts';

/** Bytes of each record of the consume measurement. */
export const CONSUME_RECORD_BYTES = 300;

/**
 * The hot path's kafkajs producers retry CONCURRENT_TRANSACTIONS (answered right after a commit)
 * after TRANSACTION_RETRY's first wait, doubling; @platformatic/kafka's default is 3 retries 1 s
 * apart, which would be its p99. Same policy on both sides.
 */
export const PLATFORMATIC_RETRY = Object.freeze({
  retries: TRANSACTION_RETRY.retries,
  retryDelay: (_client: unknown, _operation: string, attempt: number) =>
    Math.min(TRANSACTION_RETRY.initialRetryTime * 2 ** Math.max(0, attempt - 1), 2_000),
});

/**
 * Options of a transactional producer that takes over its transactional id like a new instance.
 * @platformatic/kafka 2.12.1 sends InitProducerId with producer id 0 and epoch 0 unless told
 * otherwise; for a transactional id the broker already knows (a restart, or the next owner of the
 * work) the coordinator takes 0/0 as a stale session and answers PRODUCER_FENCED: the new producer
 * cannot start, and the old one is not fenced. -1/-1 (KIP-360's "no previous producer") makes the
 * coordinator bump the epoch, abort what the previous instance left open and fence it, as Java's
 * and kafkajs's producers do. bench/kafka-clients-check.ts shows both behaviours.
 */
export const TAKE_OVER = Object.freeze({ idempotent: true, producerId: -1n, producerEpoch: -1 });

export interface AlertMessage {
  key: string;
  value: Buffer;
  partition: number;
}

/** Base options of every @platformatic/kafka client the bench builds. */
export function baseOptions(cfg: TxmonConfig, clientId: string) {
  return { clientId, bootstrapBrokers: [...cfg.kafka.brokers], ...PLATFORMATIC_RETRY };
}

export class PlatformaticSide {
  readonly producer: Producer;
  consumer: Consumer | undefined;
  private stream: MessagesStream<Buffer, Buffer, Buffer, Buffer> | undefined;
  /** Per input partition, a message the consumer fetched: the offsets are committed through it (its group metadata). */
  private readonly seeds = new Map<number, Message>();

  constructor(
    private readonly cfg: TxmonConfig,
    private readonly ns: string,
  ) {
    this.producer = new Producer({
      ...baseOptions(cfg, `${ns}pf-producer`),
      transactionalId: `${ns}platformatic`,
      ...TAKE_OVER,
    });
  }

  /**
   * Writes one record to each input partition and joins the group with a consumer that fetches
   * them: from then on it is the member whose generation the transactions' offsets carry. Its
   * stream stays open (heartbeats) until close().
   */
  async joinInput(topic: string, partitions: number): Promise<void> {
    const seeder = new Producer(baseOptions(this.cfg, `${this.ns}pf-seed`));
    await seeder.send({
      messages: Array.from({ length: partitions }, (_, partition) => ({ topic, partition, value: Buffer.from('seed') })),
    });
    await seeder.close();
    this.consumer = new Consumer({ ...baseOptions(this.cfg, `${this.ns}pf-member`), groupId: `${this.ns}group-platformatic` });
    const stream = await this.consumer.consume({ topics: [topic], mode: MessagesStreamModes.EARLIEST, autocommit: false });
    this.stream = stream;
    await new Promise<void>((resolve, reject) => {
      stream.on('error', reject);
      stream.on('data', (m: Message) => {
        this.seeds.set(m.partition, m);
        if (this.seeds.size === partitions) resolve();
      });
    });
  }

  /** One transaction: the messages (gzip, as the hot path), the offsets of `partitions` at `offset` + 1, then commit (or abort). */
  async commit(
    topic: string,
    messages: readonly AlertMessage[],
    partitions: readonly number[],
    offset: number,
    end: 'commit' | 'abort' = 'commit',
  ): Promise<void> {
    if (!this.consumer) throw new Error('PlatformaticSide: joinInput() first');
    const tx = await this.producer.beginTransaction();
    try {
      if (messages.length > 0)
        await tx.send({
          messages: messages.map((m) => ({ topic, key: Buffer.from(m.key), value: m.value, partition: m.partition })),
          compression: 'gzip',
        });
      await tx.addConsumer(this.consumer);
      // One TxnOffsetCommit per addOffset, awaited in turn: concurrent calls share one in-flight
      // request in the client (deduplicated by operation name), so they must not overlap.
      for (const p of partitions) await tx.addOffset(this.offsetAt(p, offset));
      await (end === 'commit' ? tx.commit() : tx.abort());
    } catch (err) {
      await tx.abort().catch(() => {});
      throw err;
    }
  }

  /** The group's committed offset of an input partition (-1 if none). */
  async committedOffset(topic: string, partition: number): Promise<bigint> {
    if (!this.consumer) throw new Error('PlatformaticSide: joinInput() first');
    const offsets = await this.consumer.listCommittedOffsets({ topics: [{ topic, partitions: [partition] }] });
    return offsets.get(topic)?.[partition] ?? -1n;
  }

  /** The seed message of `partition` moved to `offset`: addOffset commits offset + 1 with its group metadata. */
  offsetAt(partition: number, offset: number): Message {
    const seed = this.seeds.get(partition);
    if (!seed) throw new Error(`PlatformaticSide: no message fetched from partition ${partition}`);
    return { ...seed, offset: BigInt(offset) };
  }

  /** Fetches `count` records of `topic` from the beginning (read_committed, raw Buffers), touching each value. */
  async consumeAll(topic: string, count: number, round: number, onFirst: () => void): Promise<number> {
    const consumer = new Consumer({ ...baseOptions(this.cfg, `${this.ns}pf-reader`), groupId: `${this.ns}consume-pf-${round}` });
    let n = 0;
    let bytes = 0;
    try {
      const stream = await consumer.consume({
        topics: [topic],
        mode: MessagesStreamModes.EARLIEST,
        autocommit: false,
        isolationLevel: FetchIsolationLevels.READ_COMMITTED,
      });
      for await (const m of stream) {
        if (n === 0) onFirst();
        bytes += m.value.length;
        if (++n >= count) break;
      }
      await stream.close().catch(() => {});
    } finally {
      await consumer.close(true);
    }
    if (bytes < n * CONSUME_RECORD_BYTES) throw new Error('platformatic consume: records shorter than written');
    return n;
  }

  async close(): Promise<void> {
    await this.stream?.close().catch(() => {});
    await this.consumer?.close(true).catch(() => {});
    await this.producer.close().catch(() => {});
  }
}
