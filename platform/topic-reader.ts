/** Reads every committed record of a topic once (for the demo summary, tests and tools), without a committed group. */
import { randomUUID } from 'node:crypto';
import type { Kafka, KafkaMessage } from 'kafkajs';
import { retry, sleep } from './retry.ts';

/**
 * Consumes the topic from the beginning with read_committed isolation until every partition has
 * been read up to its end offset (control records and aborted records count as read). The end
 * offsets come from kafkajs's admin, which asks at read_committed: the last stable offset. A
 * transaction still open ends the read at its first record, though other producers may have
 * committed records after it; a caller that must see those waits for it to end first
 * (tests/helpers/pipeline.ts, waitNoOpenTransactions).
 */
export async function readTopic(
  kafka: Kafka,
  topic: string,
  opts: {
    idleMs?: number;
    timeoutMs?: number;
    /**
     * Read aborted records too (diagnostics: what was ever sent). Up to the same end offsets, the
     * last stable ones: not into a transaction still open.
     */
    readUncommitted?: boolean;
  } = {},
): Promise<KafkaMessage[]> {
  const idleMs = opts.idleMs ?? 1_500;
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const admin = kafka.admin();
  await admin.connect();
  // Right after a broker failover a partition's new leader may answer NOT_LEADER for a moment, or a
  // high watermark that has not caught up yet: asked again while retriable, and again at the end.
  const started = Date.now();
  const endOffsets = () =>
    retry(() => admin.fetchTopicOffsets(topic), { maxMs: 1_000, shouldContinue: () => Date.now() - started < timeoutMs });
  let ends: Awaited<ReturnType<typeof endOffsets>>;
  try {
    ends = await endOffsets();
  } catch (err) {
    await admin.disconnect();
    throw err;
  }
  const remaining = new Map(ends.filter((p) => Number(p.high) > Number(p.low)).map((p) => [p.partition, Number(p.high)]));
  /** Per partition, the offset after the last record (or marker) read. */
  const readTo = new Map<number, number>();
  const out: KafkaMessage[] = [];
  if (remaining.size === 0) {
    await admin.disconnect();
    return out;
  }
  const consumer = kafka.consumer({
    groupId: `txmon-reader-${randomUUID()}`,
    readUncommitted: opts.readUncommitted ?? false,
    maxWaitTimeInMs: 100,
  });
  let lastActivity = Date.now();
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    // Batches of only control records or aborted records reach no eachBatch, but still end a partition.
    consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
      lastActivity = Date.now();
      readTo.set(e.payload.partition, Math.max(readTo.get(e.payload.partition) ?? 0, Number(e.payload.lastOffset) + 1));
      if (Number(e.payload.lastOffset) + 1 >= (remaining.get(e.payload.partition) ?? 0)) remaining.delete(e.payload.partition);
    });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        lastActivity = Date.now();
        for (const m of batch.messages) out.push(m);
        readTo.set(batch.partition, Math.max(readTo.get(batch.partition) ?? 0, Number(batch.lastOffset()) + 1));
        // lastOffset() covers control records too, so a trailing commit marker counts as read.
        if (Number(batch.lastOffset()) + 1 >= (remaining.get(batch.partition) ?? 0)) remaining.delete(batch.partition);
      },
    });
    // Until every partition is read to its end offset. Idle time only ends the wait when nothing at
    // all has arrived yet.
    // Twice: to the end offsets read first, then to those read again once there (a new leader's high
    // watermark can lag just after a failover). Not more: a topic still written to is read to a point.
    for (let round = 0; round < 2; round++) {
      while (remaining.size > 0 && (out.length > 0 || Date.now() - lastActivity < idleMs + 5_000)) {
        if (Date.now() - started > timeoutMs) throw new Error(`reading ${topic} timed out after ${timeoutMs} ms`);
        await sleep(50);
      }
      if (round === 1 || remaining.size > 0) break;
      for (const p of await endOffsets())
        if (Number(p.high) > Math.max(readTo.get(p.partition) ?? 0, Number(p.low))) remaining.set(p.partition, Number(p.high));
    }
  } finally {
    await consumer.disconnect();
    await admin.disconnect();
  }
  return out;
}
