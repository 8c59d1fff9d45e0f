import { KafkaJSGroupCoordinatorNotFound, KafkaJSNonRetriableError, type Admin } from 'kafkajs';
import { describe, expect, it, vi } from 'vitest';
import { consumerReadiness, drainedWhenCaughtUp, groupLagByPartition, kafkajsGaveUpTooSoon } from './batch-consumer.ts';
import type { Logger } from './logger.ts';

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

describe('drainedWhenCaughtUp', () => {
  /** An admin that reports a fixed high watermark per partition and the committed offsets given (unit test: no broker). */
  const admin = (high: Record<string, number[]>, committed: Record<string, Array<number | null>>) =>
    ({
      fetchTopicOffsets: async (topic: string) =>
        (high[topic] ?? []).map((h, partition) => ({ partition, offset: String(h), high: String(h), low: '0' })),
      fetchOffsets: async ({ topics }: { topics: string[] }) =>
        topics.map((topic) => ({
          topic,
          partitions: (committed[topic] ?? []).map((c, partition) => ({ partition, offset: c === null ? '-1' : String(c) })),
        })),
    }) as unknown as Admin;
  const logger = () => {
    const warnings: string[] = [];
    const infos: string[] = [];
    const text = (a: unknown, b?: string) => (typeof a === 'string' ? a : (b ?? ''));
    const log = {
      warn: (a: unknown, b?: string) => warnings.push(text(a, b)),
      info: (a: unknown, b?: string) => infos.push(text(a, b)),
    } as unknown as Logger;
    return { log, warnings, infos };
  };

  it('says at warn level what it still waits for: the partitions behind and whether the consumer is in its group', async () => {
    const { log, warnings } = logger();
    const committed: Record<string, Array<number | null>> = { tx: [3, null], st: [null] };
    const done = drainedWhenCaughtUp({
      admin: admin({ tx: [3, 2], st: [5] }, committed),
      groupId: 'g',
      topics: ['tx', 'st'],
      stopped: () => false,
      processed: () => 3,
      joined: () => false,
      log,
      reportEveryMs: 30,
      checkEveryMs: 10,
    });
    await vi.waitFor(() => expect(warnings.length).toBeGreaterThanOrEqual(2));
    expect(warnings[0]).toMatch(
      /^drain still waiting after \d+ s: 7 records behind on tx\/1 none\/2, st\/0 none\/5 \(committed\/high\); the consumer is NOT in its group \(no assignment\); 3 records processed$/,
    );
    // It resolves once every partition is committed to its end (and stops reporting).
    committed.tx = [3, 2];
    committed.st = [5];
    await done;
    const n = warnings.length;
    await new Promise((r) => setTimeout(r, 80));
    expect(warnings).toHaveLength(n);
  });

  it('reports a long drain that is making progress at info level, not as a warning', async () => {
    const { log, warnings, infos } = logger();
    let processed = 0;
    let checks = 0;
    await drainedWhenCaughtUp({
      admin: admin({ tx: [4] }, { tx: [null] }),
      groupId: 'g',
      topics: ['tx'],
      stopped: () => ++checks > 12,
      processed: () => (processed += 10),
      joined: () => true,
      log,
      reportEveryMs: 20,
      checkEveryMs: 5,
    });
    expect(infos.length).toBeGreaterThanOrEqual(1);
    expect(infos[0]).toMatch(/^drain still waiting after \d+ s: 4 records behind on tx\/0 none\/4/);
    expect(warnings).toEqual([]);
  });

  it('stays quiet while the drain is shorter than the report interval', async () => {
    const { log, warnings } = logger();
    let checks = 0;
    await drainedWhenCaughtUp({
      admin: admin({ tx: [4] }, { tx: [null] }),
      groupId: 'g',
      topics: ['tx'],
      stopped: () => ++checks > 3,
      processed: () => 0,
      log,
      reportEveryMs: 60_000,
      checkEveryMs: 5,
    });
    expect(warnings).toEqual([]);
  });
});

describe('groupLagByPartition', () => {
  it('counts from the committed offset, or from the low watermark when the group has none or committed below it (retention)', async () => {
    const admin = {
      fetchTopicOffsets: async () => [
        { partition: 0, offset: '100', high: '100', low: '0' },
        { partition: 1, offset: '100', high: '100', low: '40' },
        { partition: 2, offset: '100', high: '100', low: '40' },
        { partition: 3, offset: '100', high: '100', low: '40' },
      ],
      fetchOffsets: async () => [
        {
          topic: 't',
          partitions: [
            { partition: 0, offset: '70' },
            { partition: 1, offset: '-1' },
            { partition: 2, offset: '10' },
            { partition: 3, offset: '90' },
          ],
        },
      ],
    } as unknown as Admin;
    expect((await groupLagByPartition(admin, 'g', 't')).map((p) => [p.partition, p.committed, p.lag])).toEqual([
      [0, '70', 30],
      [1, null, 60],
      [2, '10', 60],
      [3, '90', 10],
    ]);
  });
});
