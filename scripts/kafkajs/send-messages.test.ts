// kafkajs's producer send as scripts/patch-kafkajs.js leaves it (node_modules), driven through a
// stand-in cluster (unit test, no network) whose partition leaders move between attempts, as they do
// when a broker is killed and when it comes back (the preferred leader is elected again).
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
type Send = (o: {
  acks: number;
  timeout: number;
  topicMessages: Array<{ topic: string; messages: Array<{ partition?: number; value: string }> }>;
}) => Promise<unknown>;
const createSendMessages = require('kafkajs/src/producer/sendMessages.js') as (deps: object) => Send;

/**
 * Two partitions of one topic. `leaders[attempt]` gives each partition's leader in that attempt; a
 * broker listed in `fails[attempt]` refuses its request in that attempt (after the others answered).
 */
function harness(leaders: Array<Record<number, number>>, fails: Array<number[]>, opts: { roundRobin?: boolean } = {}) {
  let attempt = 0;
  const written: string[] = [];
  const sequence = new Map<string, number>();
  const broker = (nodeId: number) => ({
    nodeId,
    produce: async ({
      topicData,
    }: {
      topicData: Array<{
        topic: string;
        partitions: Array<{ partition: number; firstSequence: number; messages: Array<{ value: string }> }>;
      }>;
    }) => {
      await new Promise((r) => setTimeout(r, nodeId));
      if ((fails[attempt] ?? []).includes(nodeId))
        throw Object.assign(new Error(`connect ECONNREFUSED broker ${nodeId}`), {
          name: 'KafkaJSConnectionError',
          retriable: true,
        });
      for (const t of topicData)
        for (const p of t.partitions)
          for (const m of p.messages) written.push(`${t.topic}/${p.partition}:${m.value}@seq${p.firstSequence}`);
      return {
        topics: topicData.map((t) => ({
          topicName: t.topic,
          partitions: t.partitions.map((p) => ({ partition: p.partition, errorCode: 0, baseOffset: '0' })),
        })),
      };
    },
  });
  const brokers = new Map([1, 2, 3].map((id) => [id, broker(id)]));
  const cluster = {
    refreshMetadataIfNecessary: async () => {},
    refreshMetadata: async () => {},
    addMultipleTargetTopics: async () => {},
    isConnected: () => true,
    removeBroker: () => {},
    findTopicPartitionMetadata: () => [0, 1].map((partitionId) => ({ partitionId, leader: leaders[attempt]?.[partitionId] })),
    findLeaderForPartitions: (_t: string, partitions: string[]) => {
      const out: Record<number, number[]> = {};
      for (const p of partitions) (out[leaders[attempt]?.[Number(p)] as number] ??= []).push(Number(p));
      return out;
    },
    findBroker: async ({ nodeId }: { nodeId: number }) => brokers.get(Number(nodeId)),
  };
  const eosManager = {
    acquireBrokerLock: async () => {},
    releaseBrokerLock: async () => {},
    isTransactional: () => false,
    getTransactionalId: () => undefined,
    getProducerId: () => 7,
    getProducerEpoch: () => 0,
    getSequence: (t: string, p: number) => sequence.get(`${t}/${p}`) ?? 0,
    updateSequence: (t: string, p: number, n: number) => sequence.set(`${t}/${p}`, (sequence.get(`${t}/${p}`) ?? 0) + n),
  };
  const retrier = async (fn: (bail: (e: unknown) => never, n: number, t: number) => Promise<unknown>) => {
    for (;;) {
      try {
        return await fn(
          (e) => {
            throw e;
          },
          attempt,
          0,
        );
      } catch (err) {
        if (attempt >= leaders.length - 1) throw err;
        attempt++;
      }
    }
  };
  const logger = { debug: () => {}, error: () => {}, warn: () => {}, info: () => {} };
  // kafkajs's default partitioner sends keyless messages round-robin, with a counter across calls.
  let counter = 0;
  const partitioner = opts.roundRobin
    ? () => counter++ % 2
    : ({ message }: { message: { partition: number } }) => message.partition;
  const send = createSendMessages({
    logger,
    cluster,
    partitioner,
    eosManager,
    retrier,
  });
  const messages = opts.roundRobin
    ? [{ value: 'a' }, { value: 'b' }, { value: 'c' }]
    : [
        { partition: 0, value: 'a' },
        { partition: 1, value: 'b' },
      ];
  return { send: () => send({ acks: -1, timeout: 1000, topicMessages: [{ topic: 't', messages }] }), written };
}

describe("kafkajs's send, patched: each message once, whatever the leaders do between attempts", () => {
  it("sends a partition whose leader moved to a broker that had already answered (kafkajs's own lost it)", async () => {
    // Attempt 0: p0 on 1 (answers), p1 on 2 (refuses). Attempt 1: p1's leader is now broker 1.
    const h = harness(
      [
        { 0: 1, 1: 2 },
        { 0: 1, 1: 1 },
      ],
      [[2]],
    );
    await h.send();
    expect(h.written.sort()).toEqual(['t/0:a@seq0', 't/1:b@seq0']);
  });

  it("does not send again a partition that was acknowledged and whose leader moved (kafkajs's own wrote it twice)", async () => {
    // Attempt 0: p0 on 1 (answers), p1 on 2 (refuses). Attempt 1: p0 moved to 3, p1 to 1.
    const h = harness(
      [
        { 0: 1, 1: 2 },
        { 0: 3, 1: 1 },
      ],
      [[2]],
    );
    await h.send();
    expect(h.written.sort()).toEqual(['t/0:a@seq0', 't/1:b@seq0']);
  });

  it('keeps each keyless message on the partition chosen at the first attempt (choosing again moved them)', async () => {
    // a and c to p0 (broker 1, answers), b to p1 (broker 2, refuses); a second choice would swap them.
    const h = harness(
      [
        { 0: 1, 1: 2 },
        { 0: 1, 1: 1 },
      ],
      [[2]],
      { roundRobin: true },
    );
    await h.send();
    expect(h.written.sort()).toEqual(['t/0:a@seq0', 't/0:c@seq0', 't/1:b@seq0']);
  });
});
