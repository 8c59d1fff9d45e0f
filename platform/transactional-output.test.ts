import { KafkaJSNonRetriableError, KafkaJSProtocolError } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { chunkBySize, isFencing } from './transactional-output.ts';

describe('isFencing', () => {
  it('recognises a fenced producer however kafkajs wraps it, and nothing else', () => {
    const epoch = new KafkaJSProtocolError(<Error>(<unknown>{
      type: 'INVALID_PRODUCER_EPOCH',
      code: 47,
      retriable: false,
      message: 'Producer attempted an operation with an old epoch',
    }));
    expect(isFencing(epoch)).toBe(true);
    expect(isFencing(new KafkaJSNonRetriableError(epoch))).toBe(true);
    expect(isFencing(new Error('outer', { cause: epoch }))).toBe(true);
    expect(
      isFencing(
        new KafkaJSNonRetriableError('There is a newer producer with the same transactionalId which fences the current one'),
      ),
    ).toBe(true);
    expect(
      isFencing(
        new KafkaJSProtocolError(<Error>(<unknown>{ type: 'CONCURRENT_TRANSACTIONS', code: 51, retriable: true, message: 'x' })),
      ),
    ).toBe(false);
    expect(isFencing(new TypeError('bug'))).toBe(false);
    expect(isFencing(null)).toBe(false);
  });
});

describe('chunkBySize', () => {
  it('keeps order and stays under the byte limit (a single larger message goes alone)', () => {
    const m = (n: number) => ({ key: null, value: Buffer.alloc(n) });
    const chunks = chunkBySize([m(40), m(40), m(40), m(200), m(10)], 100);
    expect(chunks.map((c) => c.map((x) => (x.value as Buffer).length))).toEqual([[40, 40], [40], [200], [10]]);
  });
});
