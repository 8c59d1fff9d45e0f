import { CompressionTypes, KafkaJSNonRetriableError, KafkaJSProtocolError } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { COMPRESS_FROM_BYTES, compressionFor, isConcurrentTransactions, isFencing, produceRuns } from './transactional-output.ts';

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
