import { KafkaJSGroupCoordinatorNotFound, KafkaJSNonRetriableError } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { kafkajsGaveUpTooSoon } from './batch-consumer.ts';

describe('kafkajsGaveUpTooSoon', () => {
  it('picks out the coordinator lookup kafkajs gives up on while the broker is down, and nothing else', () => {
    // (its type says no argument; at run time it needs the message, as kafkajs's cluster passes it)
    const NotFound = KafkaJSGroupCoordinatorNotFound as unknown as new (message: string) => Error;
    expect(kafkajsGaveUpTooSoon(new NotFound('Failed to find group coordinator'))).toBe(true);
    // How it reached the consumer's crash event in the broker-outage test.
    expect(kafkajsGaveUpTooSoon(new KafkaJSNonRetriableError('Failed to find group coordinator'))).toBe(true);
    expect(kafkajsGaveUpTooSoon(new KafkaJSNonRetriableError('Invalid topic x'))).toBe(false);
    expect(kafkajsGaveUpTooSoon(new TypeError('bug'))).toBe(false);
    expect(kafkajsGaveUpTooSoon(null)).toBe(false);
  });
});
