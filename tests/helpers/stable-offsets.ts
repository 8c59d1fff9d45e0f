/**
 * A topic's partitions whose last stable offset (LSO: where read_committed readers stop) is below
 * the high watermark: a transaction is still open there, and a read_committed reader sees nothing
 * written after its first record (other producers' committed records included) until it ends,
 * committed, aborted, or aborted by the broker at the producer's transaction timeout.
 *
 * kafkajs's admin asks ListOffsets at read_committed only (its LSO); the high watermark is asked
 * here with a cluster of kafkajs's at read_uncommitted, created the way its own clients create
 * theirs (kafkajs keeps that factory under a private symbol).
 */
import type { Kafka } from 'kafkajs';
import { retry } from '../../platform/retry.ts';

interface KafkajsCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  addTargetTopic(topic: string): Promise<void>;
  findTopicPartitionMetadata(topic: string): Array<{ partitionId: number }>;
  fetchTopicsOffset(
    topics: Array<{ topic: string; partitions: Array<{ partition: number }>; fromBeginning: boolean }>,
  ): Promise<Array<{ topic: string; partitions: Array<{ partition: number; offset: string }> }>>;
}

const READ_UNCOMMITTED = 0;
const READ_COMMITTED = 1;

function cluster(kafka: Kafka, isolationLevel: number): KafkajsCluster {
  const sym = Object.getOwnPropertySymbols(kafka).find((s) => s.description === 'private:Kafka:createCluster');
  if (sym === undefined) throw new Error('kafkajs no longer keeps its cluster factory under private:Kafka:createCluster');
  const create = (kafka as unknown as Record<symbol, (o: object) => KafkajsCluster>)[sym] as (o: object) => KafkajsCluster;
  return create({ allowAutoTopicCreation: false, isolationLevel });
}

/**
 * The partitions' end offsets at an isolation level. Right after a failover, or while preferred
 * leaders move back, a partition's old leader answers NOT_LEADER: asked again (a fresh cluster
 * reads fresh metadata) while retriable, for up to 30 s.
 */
function ends(kafka: Kafka, topic: string, isolationLevel: number): Promise<Map<number, bigint>> {
  const started = Date.now();
  return retry(() => endsOnce(kafka, topic, isolationLevel), {
    maxMs: 1_000,
    shouldContinue: () => Date.now() - started < 30_000,
  });
}

async function endsOnce(kafka: Kafka, topic: string, isolationLevel: number): Promise<Map<number, bigint>> {
  const c = cluster(kafka, isolationLevel);
  await c.connect();
  try {
    await c.addTargetTopic(topic);
    const partitions = c.findTopicPartitionMetadata(topic).map((p) => ({ partition: p.partitionId }));
    const [t] = await c.fetchTopicsOffset([{ topic, partitions, fromBeginning: false }]);
    return new Map((t?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
  } finally {
    await c.disconnect();
  }
}

/** Partitions of `topic` with a transaction open: their LSO and high watermark. */
export async function openTransactions(
  kafka: Kafka,
  topic: string,
): Promise<Array<{ partition: number; lso: bigint; high: bigint }>> {
  const high = await ends(kafka, topic, READ_UNCOMMITTED);
  const lso = await ends(kafka, topic, READ_COMMITTED);
  const out: Array<{ partition: number; lso: bigint; high: bigint }> = [];
  for (const [partition, h] of high) {
    const l = lso.get(partition) ?? h;
    if (l < h) out.push({ partition, lso: l, high: h });
  }
  return out.sort((a, b) => a.partition - b.partition);
}
