import { KafkaJSGroupCoordinatorNotFound, KafkaJSNonRetriableError } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { consumerReadiness, kafkajsGaveUpTooSoon } from './batch-consumer.ts';

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

describe('consumerReadiness', () => {
  const consumer = (joined: boolean, runningMs: number) => ({
    joined: () => joined,
    batchRunningMs: () => runningMs,
    sessionTimeoutMs: 30_000,
  });

  it('is ready while in the group with nothing failing and batches shorter than the session timeout', () => {
    expect(consumerReadiness(consumer(true, 0), new Set())()).toEqual({ ok: true, detail: 'consuming' });
    expect(consumerReadiness(consumer(true, 29_000), new Set())().ok).toBe(true);
  });

  it('is not ready outside the group or while a dependency fails', () => {
    expect(consumerReadiness(consumer(false, 0), new Set())()).toEqual({ ok: false, detail: 'not yet in the consumer group' });
    expect(consumerReadiness(consumer(true, 0), new Set(['mysql']))()).toEqual({ ok: false, detail: 'waiting for mysql' });
  });

  it('is not ready while a batch goes without a heartbeat past the session timeout (the coordinator has removed the member)', () => {
    const r = consumerReadiness(consumer(true, 95_000), new Set())();
    expect(r.ok).toBe(false);
    expect(r.detail).toContain('gone 95 s without a heartbeat, longer than the 30 s session timeout');
  });
});
