import { CompressionTypes, KafkaJSNonRetriableError, KafkaJSProtocolError, type Kafka } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.ts';
import {
  COMPRESS_FROM_BYTES,
  compressionFor,
  isConcurrentTransactions,
  isFencing,
  laterOffset,
  PartitionFencedError,
  produceRuns,
  TransactionalOutput,
} from './transactional-output.ts';

/** A broker error as kafkajs raises it (its constructor takes the decoded error, typed as an Error). */
const protocolError = (type: string, code: number, retriable: boolean, message: string) =>
  new KafkaJSProtocolError(<Error>(<unknown>{ type, code, retriable, message }));

describe('isFencing', () => {
  it('recognises a fenced producer however kafkajs wraps it, and nothing else', () => {
    const epoch = protocolError('INVALID_PRODUCER_EPOCH', 47, false, 'Producer attempted an operation with an old epoch');
    expect(isFencing(epoch)).toBe(true);
    expect(isFencing(new KafkaJSNonRetriableError(epoch))).toBe(true);
    expect(isFencing(new Error('outer', { cause: epoch }))).toBe(true);
    expect(
      isFencing(
        new KafkaJSNonRetriableError('There is a newer producer with the same transactionalId which fences the current one'),
      ),
    ).toBe(true);
    expect(isFencing(protocolError('CONCURRENT_TRANSACTIONS', 51, true, 'x'))).toBe(false);
    expect(isFencing(new TypeError('bug'))).toBe(false);
    expect(isFencing(null)).toBe(false);
  });
});

describe('laterOffset (the boundary below which a batch published already)', () => {
  it("takes this instance's own commit while Kafka still shows the offset before it (markers not yet written)", () => {
    expect(laterOffset(120n, 180n)).toBe(180n);
    expect(laterOffset(undefined, 7n)).toBe(7n);
  });

  it("takes Kafka's answer when another owner committed further, or this instance committed nothing", () => {
    expect(laterOffset(300n, 180n)).toBe(300n);
    expect(laterOffset(300n, undefined)).toBe(300n);
    expect(laterOffset(undefined, undefined)).toBeUndefined();
    expect(laterOffset(180n, 180n)).toBe(180n);
  });
});

describe('isConcurrentTransactions', () => {
  it("recognises the broker's CONCURRENT_TRANSACTIONS however kafkajs wraps it, and nothing else", () => {
    const concurrent = protocolError(
      'CONCURRENT_TRANSACTIONS',
      51,
      true,
      'The producer attempted to update a transaction while another concurrent operation on the same transaction was ongoing',
    );
    expect(isConcurrentTransactions(concurrent)).toBe(true);
    expect(isConcurrentTransactions(new Error('outer', { cause: concurrent }))).toBe(true);
    const epoch = protocolError('INVALID_PRODUCER_EPOCH', 47, false, 'x');
    expect(isConcurrentTransactions(epoch)).toBe(false);
    expect(isConcurrentTransactions(new Error('CONCURRENT_TRANSACTIONS in a message only'))).toBe(false);
    expect(isConcurrentTransactions(undefined)).toBe(false);
  });
});

describe('produceRuns', () => {
  const m = (n: number) => ({ key: null, value: Buffer.alloc(n) });
  const sizes = (runs: ReturnType<typeof produceRuns>) =>
    runs.map((r) => r.map((t) => [t.topic, t.messages.map((x) => (x.value as Buffer).length)]));

  it('keeps order and stays under the byte limit (a single larger message goes alone)', () => {
    expect(sizes(produceRuns([{ topic: 'a', messages: [m(40), m(40), m(40), m(200), m(10)] }], 100))).toEqual([
      [['a', [40, 40]]],
      [['a', [40]]],
      [['a', [200]]],
      [['a', [10]]],
    ]);
  });

  it('puts the topics of a transaction in one run while they fit, in their order, and skips empty ones', () => {
    const runs = produceRuns(
      [
        { topic: 'dlq', messages: [m(10), m(20)] },
        { topic: 'empty', messages: [] },
        { topic: 'alerts', messages: [m(30), m(50), m(5)] },
      ],
      100,
    );
    expect(sizes(runs)).toEqual([
      [
        ['dlq', [10, 20]],
        ['alerts', [30]],
      ],
      [['alerts', [50, 5]]],
    ]);
    expect(produceRuns([{ topic: 'a', messages: [] }], 100)).toEqual([]);
  });

  it('counts keys and string values in bytes', () => {
    const runs = produceRuns(
      [
        {
          topic: 'a',
          messages: [
            { key: 'é'.repeat(30), value: 'x'.repeat(40) },
            { key: null, value: 'y' },
          ],
        },
      ],
      100,
    );
    expect(runs).toHaveLength(2);
  });
});

describe('compressionFor', () => {
  it('compresses a run from COMPRESS_FROM_BYTES of keys and values over all its topics, not below', () => {
    const half = { key: 'k', value: Buffer.alloc(COMPRESS_FROM_BYTES / 2 - 2) };
    expect(compressionFor([{ messages: [half] }, { messages: [half] }])).toBe(CompressionTypes.None);
    expect(compressionFor([{ messages: [half] }, { messages: [half, { key: null, value: 'xx' }] }])).toBe(CompressionTypes.GZIP);
    expect(compressionFor([])).toBe(CompressionTypes.None);
  });
});

/**
 * A kafkajs stand-in (unit test, no network): producers whose transactions record what they do and
 * whose commit and abort fail as told, and an admin whose committed offset is `committed.offset`.
 */
function fakeKafka(
  plan: { commitFails: number; abortFails: number; fenceAbort?: boolean; sendFails?: number },
  committed: { offset: string },
) {
  const log: string[] = [];
  let producers = 0;
  const kafka = {
    producer: () => {
      const id = ++producers;
      return {
        connect: async () => {},
        disconnect: async () => {},
        transaction: async () => {
          log.push(`p${id} begin`);
          return {
            sendBatch: async () => {
              if ((plan.sendFails ?? 0) > 0) {
                plan.sendFails = (plan.sendFails ?? 0) - 1;
                throw new Error('Connection error: read ECONNRESET');
              }
              log.push(`p${id} send`);
            },
            sendOffsets: async (o: { topics: Array<{ partitions: Array<{ offset: string }> }> }) =>
              void log.push(`p${id} offsets ${o.topics[0]?.partitions[0]?.offset}`),
            commit: async () => {
              if (plan.commitFails-- > 0) throw new Error('connect ECONNREFUSED 127.0.0.1:19094');
              log.push(`p${id} commit`);
            },
            abort: async () => {
              if (plan.abortFails-- > 0) {
                if (plan.fenceAbort) throw protocolError('PRODUCER_FENCED', 90, false, 'fenced');
                throw protocolError('INVALID_TXN_STATE', 48, false, 'invalid state');
              }
              log.push(`p${id} abort`);
            },
          };
        },
      };
    },
    admin: () => ({
      connect: async () => {},
      disconnect: async () => {},
      fetchOffsets: async () => {
        log.push(`fetch offsets: ${committed.offset}`);
        return [{ topic: 'in', partitions: [{ partition: 0, offset: committed.offset }] }];
      },
    }),
  } as unknown as Kafka;
  return { kafka, log };
}

describe('TransactionalOutput after a commit whose outcome is unknown', () => {
  const messages = [{ topic: 'alerts', messages: [{ key: 'k', value: 'alert' }] }];
  const offsets = { groupId: 'g', topic: 'in', partition: 0, offset: '11' };
  const logger = createLogger({ level: 'silent' });

  it('does not send the messages again when the failed commit had landed (Kafka committed its offset)', async () => {
    const committed = { offset: '11' };
    const { kafka, log } = fakeKafka({ commitFails: 1, abortFails: 1 }, committed);
    const out = new TransactionalOutput(kafka, 'txmon-g', logger);
    await expect(out.commit(messages, offsets)).rejects.toThrow(/ECONNREFUSED/);
    // No new producer before the group confirms this member (it may have lost the partition with
    // the coordinator that lost the answer), as after a fencing.
    await expect(out.commit(messages, offsets)).rejects.toBeInstanceOf(PartitionFencedError);
    expect(log.some((l) => l.startsWith('p2'))).toBe(false);
    out.ownershipConfirmed('in', 0);
    await out.commit(messages, offsets);
    // The retry initialised a fresh producer (begin + abort: InitProducerId) before it read the
    // offset, and sent nothing: the one send is the first attempt's.
    expect(log.filter((l) => l.endsWith(' send'))).toEqual(['p1 send']);
    expect(log.slice(log.indexOf('p2 begin'))).toEqual(['p2 begin', 'p2 abort', 'fetch offsets: 11']);
  });

  it('sends them again when it had not landed, and asks Kafka only once', async () => {
    const committed = { offset: '4' };
    const { kafka, log } = fakeKafka({ commitFails: 1, abortFails: 1 }, committed);
    const out = new TransactionalOutput(kafka, 'txmon-g', logger);
    await expect(out.commit(messages, offsets)).rejects.toThrow(/ECONNREFUSED/);
    out.ownershipConfirmed('in', 0);
    await out.commit(messages, offsets);
    await out.commit(messages, { ...offsets, offset: '15' });
    expect(log.filter((l) => l.startsWith('fetch'))).toEqual(['fetch offsets: 4']);
    expect(log.filter((l) => l.endsWith(' commit'))).toEqual(['p2 commit', 'p2 commit']);
    // What this instance committed, for readers that Kafka's OffsetFetch may not show it to yet.
    expect(out.committedHere('in', 0)).toBe(15n);
    // Kafka's answer behind it (its markers not written yet), then past it (another owner's commit).
    expect(out.committedAtLeast('in', 0, 12n)).toBe(15n);
    expect(out.committedAtLeast('in', 0, 20n)).toBe(20n);
    expect(out.committedAtLeast('in', 1, undefined)).toBeUndefined();
    expect(out.committedHere('in', 1)).toBeUndefined();
  });

  it('asks nothing when the abort went through (the transaction is known not to have landed)', async () => {
    const { kafka, log } = fakeKafka({ commitFails: 1, abortFails: 0 }, { offset: '11' });
    const out = new TransactionalOutput(kafka, 'txmon-g', logger);
    await expect(out.commit(messages, offsets)).rejects.toThrow(/ECONNREFUSED/);
    await out.commit(messages, offsets);
    expect(log.filter((l) => l.startsWith('fetch'))).toEqual([]);
    expect(log.filter((l) => l.endsWith(' commit'))).toEqual(['p1 commit']);
  });

  it('after a failed send (aborted), sends with a fresh producer once ownership is confirmed: never the same one, whose sequence numbers were wound back', async () => {
    const { kafka, log } = fakeKafka({ commitFails: 0, abortFails: 0, sendFails: 1 }, { offset: '4' });
    const out = new TransactionalOutput(kafka, 'txmon-g', logger);
    const failed = await out.commit(messages, offsets).catch((err: unknown) => err);
    expect(failed).toBeInstanceOf(PartitionFencedError);
    expect(String((failed as Error).message)).toMatch(
      /a send of the partition's transaction failed \(Connection error: read ECONNRESET\)/,
    );
    expect(log).toEqual(['p1 begin', 'p1 abort']);
    expect(out.fencedSince('in', 0)).toBeTypeOf('number');
    // Until the group confirms this member, no producer at all, offsets alone included.
    await expect(out.commit(messages, offsets)).rejects.toBeInstanceOf(PartitionFencedError);
    await expect(out.commitSkipped(offsets)).rejects.toBeInstanceOf(PartitionFencedError);
    expect(log.some((l) => l.startsWith('p2'))).toBe(false);
    out.ownershipConfirmed('in', 0);
    await out.commit(messages, offsets);
    expect(log.filter((l) => l.startsWith('p1'))).toEqual(['p1 begin', 'p1 abort']);
    expect(log.filter((l) => l.endsWith(' send') || l.endsWith(' commit'))).toEqual(['p2 send', 'p2 commit']);
  });

  it('keeps the producer when the commit of a transaction without messages fails and its abort goes through (nothing was sent)', async () => {
    const { kafka, log } = fakeKafka({ commitFails: 1, abortFails: 0 }, { offset: '4' });
    const out = new TransactionalOutput(kafka, 'txmon-g', logger);
    await expect(out.commit([], offsets)).rejects.toThrow(/ECONNREFUSED/);
    await out.commit([], offsets);
    expect(out.fencedSince('in', 0)).toBeUndefined();
    expect(log.filter((l) => l.endsWith(' commit'))).toEqual(['p1 commit']);
  });

  it('treats an abort refused as fenced as a fencing: no new producer until ownership is confirmed', async () => {
    const { kafka, log } = fakeKafka({ commitFails: 1, abortFails: 1, fenceAbort: true }, { offset: '4' });
    const out = new TransactionalOutput(kafka, 'txmon-g', logger);
    await expect(out.commit(messages, offsets)).rejects.toBeInstanceOf(PartitionFencedError);
    await expect(out.commit(messages, offsets)).rejects.toBeInstanceOf(PartitionFencedError);
    expect(log.some((l) => l.startsWith('p2'))).toBe(false);
    expect(out.fencedSince('in', 0)).toBeTypeOf('number');
    out.ownershipConfirmed('in', 0);
    await out.commit(messages, offsets);
    expect(log.filter((l) => l.endsWith(' commit'))).toEqual(['p2 commit']);
  });

  it('a join clears the fence of the partitions it assigns only; the next commit reads what the other holder committed', async () => {
    const committed = { offset: '4' };
    const { kafka, log } = fakeKafka({ commitFails: 1, abortFails: 1, fenceAbort: true }, committed);
    const out = new TransactionalOutput(kafka, 'txmon-g', logger);
    await expect(out.commit(messages, offsets)).rejects.toBeInstanceOf(PartitionFencedError);
    out.forgetFences({ in: [1, 2] });
    await expect(out.commit(messages, offsets)).rejects.toBeInstanceOf(PartitionFencedError);
    // Partition 0 given back to this member; meanwhile its other holder committed past this batch.
    committed.offset = '11';
    out.forgetFences({ in: [0] });
    await out.commit(messages, offsets);
    expect(log.filter((l) => l.startsWith('fetch'))).toEqual(['fetch offsets: 11']);
    expect(log.filter((l) => l.endsWith(' commit'))).toEqual([]);
    expect(out.committedHere('in', 0)).toBe(11n);
  });
});
