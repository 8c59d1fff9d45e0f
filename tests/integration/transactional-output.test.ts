// Fencing of the transactional outputs against the real broker: what the ingest relies on when it
// takes a partition up (renew) and the reconcile processor before its outbox (fence). kafkajs
// initialises a transactional id at the first transaction(), not at connect(): a fence that only
// connected fenced nobody.
import { Kafka, logLevel } from 'kafkajs';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafka } from '../../platform/kafka.ts';
import {
  CommittedMovedError,
  memberCommit,
  PartitionFencedError,
  TransactionalOutput,
} from '../../platform/transactional-output.ts';
import { readTopic } from '../../platform/topic-reader.ts';
import { sleep } from '../../platform/retry.ts';
import { topicName } from '../../topics/topics.ts';
import { createNamespace, testLogger, type TestNamespace } from '../helpers/namespace.ts';
import { waitNoOpenTransactions } from '../helpers/pipeline.ts';
import { openTransactions } from '../helpers/stable-offsets.ts';

let ns: TestNamespace;
beforeAll(async () => {
  ns = await createNamespace();
});
afterAll(async () => {
  await ns?.cleanup();
});

describe('TransactionalOutput fencing', () => {
  const outputs: TransactionalOutput[] = [];
  afterAll(async () => {
    for (const o of outputs) await o.disconnect();
  });

  /** Two instances of one processor: the same transactional id prefix, as two ingest processes have. */
  function instance(): TransactionalOutput {
    const o = new TransactionalOutput(createKafka(ns.cfg, testLogger, `-fence-${outputs.length}`), `${ns.id}-fence`, testLogger);
    outputs.push(o);
    return o;
  }

  async function committed(groupId: string, topic: string, partition = 0): Promise<string | undefined> {
    const admin = createKafka(ns.cfg, testLogger).admin();
    await admin.connect();
    try {
      const [t] = await admin.fetchOffsets({ groupId, topics: [topic] });
      return t?.partitions.find((p) => p.partition === partition)?.offset;
    } finally {
      await admin.disconnect();
    }
  }

  it('fence() on a new instance stops the old one from committing; renew() does it again for an instance that had a producer', async () => {
    const topic = topicName(ns.cfg.topicNamespace, 'transactions');
    const alerts = topicName(ns.cfg.topicNamespace, 'alerts');
    const groupId = `${ns.id}-fence-group`;
    const a = instance();
    const b = instance();
    const commit = (o: TransactionalOutput, offset: number) =>
      o.commit([{ topic: alerts, messages: [{ key: 'k', value: `at ${offset}` }] }], {
        groupId,
        topic,
        partition: 0,
        offset: String(offset),
      });

    await commit(a, 5);
    expect(await committed(groupId, topic)).toBe('5');
    // b takes the partition up: from here on a's producer is fenced.
    await b.fence(topic, 0);
    await expect(commit(a, 9)).rejects.toThrow(/fenced/);
    expect(await committed(groupId, topic)).toBe('5');
    await commit(b, 7);
    expect(await committed(groupId, topic)).toBe('7');

    // a, fenced, does not initialise the id again by itself (that would fence b, the owner now, and
    // both would commit the same records): its next commits are refused without a request, and b's
    // producer stays the live one.
    expect(a.fencedSince(topic, 0)).toBeTypeOf('number');
    await expect(commit(a, 9)).rejects.toBeInstanceOf(PartitionFencedError);
    await expect(a.renew(topic, 0)).rejects.toBeInstanceOf(PartitionFencedError);
    await commit(b, 8);
    expect(await committed(groupId, topic)).toBe('8');
    // Once the group confirms a still owns the partition (batch-retry.ts) a commits with a fresh
    // producer, fencing b; then b takes the partition back: its producer of before is stale, and
    // fence() alone would return at once; renew() fences a.
    a.ownershipConfirmed(topic, 0);
    await commit(a, 8);
    await expect(commit(b, 9)).rejects.toThrow(/fenced/);
    b.forgetFences({ [topic]: [0] });
    await b.renew(topic, 0);
    await expect(commit(a, 12)).rejects.toThrow(/fenced/);
    await commit(b, 10);
    expect(await committed(groupId, topic)).toBe('10');
  });

  it('a commit whose first record another holder committed meanwhile sends nothing (CommittedMovedError); built again from there, it goes once', async () => {
    const topic = topicName(ns.cfg.topicNamespace, 'transactions');
    const out = topicName(ns.cfg.topicNamespace, 'transactionsDlq');
    const groupId = `${ns.id}-moved-group`;
    const a = instance();
    const b = instance();
    /** One message per record in [from, offset), as a batch's dead letters are. */
    const commit = (o: TransactionalOutput, from: number, offset: number) => {
      const messages = [];
      for (let i = from; i < offset; i++) messages.push({ key: String(i), value: `record ${i}` });
      return o.commit([{ topic: out, messages }], { groupId, topic, partition: 2, offset: String(offset), from: String(from) });
    };
    await commit(a, 0, 100);
    // b takes the partition up and commits part of what a is working on ([100, 150)); a is fenced.
    await b.renew(topic, 2);
    await commit(b, 100, 150);
    await expect(commit(a, 100, 200)).rejects.toBeInstanceOf(PartitionFencedError);
    // The group confirms a (b was the zombie): a's batch [100, 200) would send [100, 150) again.
    a.ownershipConfirmed(topic, 2);
    const moved = await commit(a, 100, 200).catch((err: unknown) => err);
    expect(moved).toBeInstanceOf(CommittedMovedError);
    expect((moved as CommittedMovedError).committed).toBe(150n);
    expect(a.committedHere(topic, 2)).toBe(150n);
    expect(await committed(groupId, topic, 2)).toBe('150');
    // Built again from the committed offset, the batch commits its own records only.
    await commit(a, 150, 200);
    expect(await committed(groupId, topic, 2)).toBe('200');
    const keys = (await readTopic(createKafka(ns.cfg, testLogger), out)).map((m) => String(m.key));
    expect(keys.length).toBe(200);
    expect(new Set(keys).size).toBe(200);
  });

  it('a send whose answers were lost, then aborted: the batch sent again is written, not taken by the broker for a duplicate of the aborted records', async () => {
    // The broker writes a produce request whose answer never reaches the client (the connection
    // drops, as when a broker dies): kafkajs winds the partition's sequence numbers back and, its
    // retries spent, the send fails; the abort succeeds. The same producer sending the batch again
    // would reuse those sequence numbers in the same epoch, and the broker would answer it as a
    // duplicate of the aborted records, writing nothing: the commit would carry the offsets and lose
    // the messages (the cluster test read 119 of 122 dead letters so).
    const topic = topicName(ns.cfg.topicNamespace, 'transactions');
    const out = topicName(ns.cfg.topicNamespace, 'transactionsDlq');
    const groupId = `${ns.id}-lost-answer-group`;
    let loseProduceAnswers = false;
    let lost = 0;
    const socketFactory = ({ host, port, onConnect }: { host: string; port: number; onConnect: () => void }) => {
      const socket = connect({ host, port }, onConnect);
      const write = socket.write.bind(socket) as (chunk: Buffer, ...rest: unknown[]) => boolean;
      socket.write = ((chunk: Buffer, ...rest: unknown[]) => {
        const ok = write(chunk, ...rest);
        // A request: int32 size, int16 API key (0: Produce), ...
        if (loseProduceAnswers && Buffer.isBuffer(chunk) && chunk.length >= 6 && chunk.readInt16BE(4) === 0) {
          lost++;
          socket.pause();
          setTimeout(() => socket.destroy(new Error('injected: the produce answer was lost')), 150);
        }
        return ok;
      }) as typeof socket.write;
      return socket;
    };
    const kafka = new Kafka({
      clientId: `${ns.id}-lost-answer`,
      brokers: [...ns.cfg.kafka.brokers],
      socketFactory,
      retry: { maxRetryTime: 100 },
      logLevel: logLevel.NOTHING,
    });
    const o = new TransactionalOutput(kafka, `${ns.id}-lost-answer`, testLogger);
    outputs.push(o);
    const messages = Array.from({ length: 3 }, (_, i) => ({ key: `dl-${i}`, value: `dead letter ${i}`, partition: 1 }));
    const commit = () => o.commit([{ topic: out, messages }], { groupId, topic, partition: 3, offset: '200', from: '100' });
    // A first transaction, so the partition's sequence numbers are past their start.
    await o.commit([{ topic: out, messages: [{ key: 'first', value: 'first', partition: 1 }] }], {
      groupId,
      topic,
      partition: 3,
      offset: '100',
    });
    loseProduceAnswers = true;
    await expect(commit()).rejects.toThrow();
    loseProduceAnswers = false;
    expect(lost).toBeGreaterThan(0);
    // Sent again the way the retry loop does: once the group confirms this member still owns the
    // partition (it may have lost it while its requests failed), with a fresh producer.
    await commit().catch((err: unknown) => {
      expect(err).toBeInstanceOf(PartitionFencedError);
      o.ownershipConfirmed(topic, 3);
      return commit();
    });
    expect(await committed(groupId, topic, 3)).toBe('200');
    const read = (await readTopic(createKafka(ns.cfg, testLogger), out)).map((m) => String(m.key));
    expect(read.filter((k) => k.startsWith('dl-')).sort()).toEqual(['dl-0', 'dl-1', 'dl-2']);
  });

  it('commits transactions of offsets alone back to back (the broker answers CONCURRENT_TRANSACTIONS while the previous one completes)', async () => {
    // A batch without alerts or dead letters commits its offset alone, right after the partition's
    // previous commit; kafkajs does not retry that answer on AddOffsetsToTxn, TransactionalOutput does.
    const topic = topicName(ns.cfg.topicNamespace, 'transactions');
    const groupId = `${ns.id}-offsets-alone`;
    const o = instance();
    const failures: unknown[] = [];
    for (let offset = 1; offset <= 40; offset++) {
      await o.commit([], { groupId, topic, partition: 1, offset: String(offset) }).catch((err: unknown) => failures.push(err));
    }
    expect(failures).toEqual([]);
    const admin = createKafka(ns.cfg, testLogger).admin();
    await admin.connect();
    try {
      const [t] = await admin.fetchOffsets({ groupId, topics: [topic] });
      expect(t?.partitions.find((p) => p.partition === 1)?.offset).toBe('40');
    } finally {
      await admin.disconnect();
    }
  });

  it('offsets alone go as the group member’s commit, interleaved with transactions: the later commit stands, metadata and all', async () => {
    // The ingest commits a batch with nothing to publish as the member (OffsetCommit), right after the
    // partition's previous transaction, whose markers may still be on their way: Kafka must keep
    // whichever commit came later, not the transaction's once its marker lands.
    const topic = topicName(ns.cfg.topicNamespace, 'transactions');
    const alerts = topicName(ns.cfg.topicNamespace, 'alerts');
    const groupId = `${ns.id}-as-member`;
    const o = instance();
    const kafka = createKafka(ns.cfg, testLogger, '-as-member');
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: [{ key: 'k', value: 'v', partition: 2 }] });
    await producer.disconnect();
    const consumer = kafka.consumer({ groupId });
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    const steps: string[] = [];
    const done = new Promise<void>((resolve, reject) => {
      void consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        eachBatch: async ({ batch, commitOffsetsIfNecessary }) => {
          if (batch.partition !== 2 || steps.length > 0) return;
          try {
            const asMember = memberCommit(commitOffsetsIfNecessary);
            for (let offset = 1; offset <= 20; offset++) {
              const at = { groupId, topic, partition: 2, offset: String(offset), metadata: `m${offset}` };
              // Odd offsets in a transaction with an alert, even ones as the member, back to back.
              if (offset % 2 === 1)
                await o.commit([{ topic: alerts, messages: [{ key: 'k', value: `at ${offset}` }] }], at, asMember);
              else await o.commit([{ topic: alerts, messages: [] }], at, asMember);
              steps.push(String(offset));
            }
            resolve();
          } catch (err) {
            reject(err as Error);
          }
        },
      });
    });
    try {
      await done;
    } finally {
      await consumer.disconnect();
    }
    expect(steps).toHaveLength(20);
    const admin = kafka.admin();
    await admin.connect();
    try {
      // Read twice, the second time after any marker still in flight has long landed.
      for (const wait of [0, 1_500]) {
        await sleep(wait);
        const [t] = await admin.fetchOffsets({ groupId, topics: [topic] });
        const p2 = t?.partitions.find((p) => p.partition === 2);
        expect(p2?.offset).toBe('20');
        expect(p2?.metadata).toBe('m20');
      }
      // A transaction after the member's commit moves it on as before.
      await o.commit([{ topic: alerts, messages: [{ key: 'k', value: 'at 21' }] }], {
        groupId,
        topic,
        partition: 2,
        offset: '21',
      });
      // A transaction's offsets show once its commit marker is written, just after EndTxn returns.
      let seen: string | undefined;
      for (const until = Date.now() + 5_000; seen !== '21' && Date.now() < until; await sleep(50)) {
        const [t] = await admin.fetchOffsets({ groupId, topics: [topic] });
        seen = t?.partitions.find((p) => p.partition === 2)?.offset;
      }
      expect(seen).toBe('21');
    } finally {
      await admin.disconnect();
    }
  });
});

// The coordinator cache (platform/kafka-coordinators.ts): kafkajs asks for a coordinator before four
// of a transaction's requests; with the cache, a run of transactions asks about once a second per
// coordinator. Fails if a kafkajs upgrade bypasses the wrapped method.
describe('coordinator look-ups', () => {
  it('ten transactions of a message and offsets ask for each coordinator once, not four times each', async () => {
    const topic = topicName(ns.cfg.topicNamespace, 'alerts');
    const input = topicName(ns.cfg.topicNamespace, 'transactions');
    const producer = createKafka(ns.cfg, testLogger, '-coordinators').producer({
      transactionalId: `${ns.id}-coordinators`,
      idempotent: true,
      maxInFlightRequests: 1,
    });
    const requests = new Map<string, number>();
    producer.on(producer.events.REQUEST, (e) => requests.set(e.payload.apiName, (requests.get(e.payload.apiName) ?? 0) + 1));
    // From before the connect: its InitProducerId asks for the transaction's coordinator too.
    const started = Date.now();
    await producer.connect();
    try {
      for (let i = 1; i <= 10; i++) {
        const tx = await producer.transaction();
        await tx.send({ topic, messages: [{ key: 'k', value: `v${i}` }] });
        await tx.sendOffsets({
          consumerGroupId: `${ns.id}-coordinators-group`,
          topics: [{ topic: input, partitions: [{ partition: 0, offset: String(i) }] }],
        });
        await tx.commit();
      }
    } finally {
      await producer.disconnect();
    }
    expect(requests.get('EndTxn')).toBe(10);
    expect(requests.get('TxnOffsetCommit')).toBe(10);
    // kafkajs's name for FindCoordinator. Without the cache, 41: four per transaction and one for
    // InitProducerId. With it, the transaction's and the group's coordinator at most once a second
    // each (the run takes 1–3 s; a loaded broker may stretch it, and the bound with it).
    const seconds = Math.ceil((Date.now() - started) / 1000);
    expect(requests.get('GroupCoordinator')).toBeLessThanOrEqual(Math.min(2 * seconds + 2, 20));
  });
});

describe('open transactions on an output (what tests wait for before reading it read_committed)', () => {
  it('a transaction still open holds the LSO below the high watermark, hiding a later committed record; once it ends, neither', async () => {
    const topic = topicName(ns.cfg.topicNamespace, 'alerts');
    const kafka = createKafka(ns.cfg, testLogger, '-open');
    const open = kafka.producer({ transactionalId: `${ns.id}-open`, idempotent: true, maxInFlightRequests: 1 });
    const plain = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await open.connect();
    await plain.connect();
    try {
      const tx = await open.transaction();
      await tx.send({ topic, messages: [{ key: 'a', value: 'open', partition: 0 }] });
      await plain.send({ topic, messages: [{ key: 'b', value: 'after', partition: 0 }] });
      const held = await openTransactions(kafka, topic);
      expect(held).toHaveLength(1);
      expect(held[0]).toMatchObject({ partition: 0 });
      expect((held[0] as { high: bigint }).high - (held[0] as { lso: bigint }).lso).toBe(2n);
      // A read_committed read stops at the LSO: the committed record after it is not seen.
      expect((await readTopic(kafka, topic, { idleMs: 300 })).map((m) => String(m.value))).not.toContain('after');
      const still = await waitNoOpenTransactions(kafka, [topic], 500);
      expect(still).toEqual([{ topic, partition: 0, lso: held[0]?.lso.toString(), high: held[0]?.high.toString() }]);
      await tx.commit();
      expect(await waitNoOpenTransactions(kafka, [topic], 10_000)).toEqual([]);
      expect((await readTopic(kafka, topic)).map((m) => String(m.value))).toEqual(expect.arrayContaining(['open', 'after']));
    } finally {
      await open.disconnect();
      await plain.disconnect();
    }
  });
});
