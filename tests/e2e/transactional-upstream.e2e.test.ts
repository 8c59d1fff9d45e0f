// An upstream that produces in Kafka transactions: committed records land, aborted ones never do,
// and the trailing transaction markers do not keep `--drain` (or the lag) from reaching the end.
import { afterAll, describe, expect, it } from 'vitest';
import { createKafka } from '../../platform/kafka.ts';
import type { Transaction } from '../../simulator/types.ts';
import { topicName } from '../../topics/topics.ts';
import { createNamespace, testLogger, type TestNamespace } from '../helpers/namespace.ts';
import { readEndState, spawnIngest, transactionEncoder, validTransactions } from '../helpers/pipeline.ts';

let ns: TestNamespace | undefined;
afterAll(async () => {
  await ns?.cleanup();
});

describe('transactional upstream producer', () => {
  it('ingests committed records only and drains past transaction markers', async () => {
    // Small fetches, so some batches hold only aborted records or markers (kafkajs skips those).
    ns = await createNamespace({ TXMON_INGEST_MAX_BYTES_PER_PARTITION: '4096' });
    const encode = await transactionEncoder(ns);
    const txs = validTransactions(41, 1_000);
    const topic = topicName(ns.cfg.topicNamespace, 'transactions');
    const producer = createKafka(ns.cfg, testLogger).producer({
      transactionalId: `${ns.id}-upstream`,
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await producer.connect();
    const send = async (part: Transaction[], commit: boolean) => {
      const t = await producer.transaction();
      await t.send({
        topic,
        acks: -1,
        messages: part.map((tx) => ({ key: tx.account_id, value: encode(tx) })),
      });
      await (commit ? t.commit() : t.abort());
    };
    await send(txs.slice(0, 500), true);
    await send(txs.slice(500, 800), false);
    await send(txs.slice(800), true);
    await producer.disconnect();

    const run = spawnIngest(ns, ['--drain']);
    expect(await run.exited, run.output()).toBe(0);
    const state = await readEndState(ns);
    const committed = [...txs.slice(0, 500), ...txs.slice(800)].map((t) => t.transaction_id).sort();
    expect(state.transactionIds).toEqual(committed);
    expect(state.deadLetters).toEqual([]);
    expect(state.lag).toBe(0);
  });
});
