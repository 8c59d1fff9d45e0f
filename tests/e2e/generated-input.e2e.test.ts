// Issue 22 end to end: 10,000 transaction records generated from schemas/transaction.avsc (values the
// schema accepts with their edges, records near valid ones, and every malformation a producer can
// send: tests/helpers/generated-transactions.ts), 300 of them sent twice, through a real
// `txmon run ingest --drain` against the real broker, registry, MariaDB and Redis. Every record ends
// in exactly one place — a row, a duplicate's row or a dead letter with its reason — the processor
// never crashes, every record that can never be valid is dead-lettered, and no card number reaches
// MySQL or the dead-letter topic.
import fc from 'fast-check';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, describe, expect, it } from 'vitest';
import { containsPan } from '../../domain/pan.ts';
import { createKafka } from '../../platform/kafka.ts';
import { createConnection } from '../../platform/mysql.ts';
import { createRegistry, registerSchema } from '../../platform/schema-registry.ts';
import { schemaText } from '../../schemas/index.ts';
import { topicName, valueSubject } from '../../topics/topics.ts';
import { generatedTransactionRecord, NEVER_VALID, type GeneratedRecord } from '../helpers/generated-transactions.ts';
import { createNamespace, testLogger, type TestNamespace } from '../helpers/namespace.ts';
import { countByClass, readEndState, spawnIngest } from '../helpers/pipeline.ts';

let ns: TestNamespace | undefined;
afterAll(async () => {
  await ns?.cleanup();
});

const COUNT = 10_000;
const RESENT = 300;
/** Fixed, so a failure names records that can be generated again. */
const SEED = 22;

describe('records generated from the Avro schema, end to end', () => {
  it('10,000 of them (and 300 re-sent): each a row, a duplicate or a dead letter with its reason, once; no card number stored', async () => {
    ns = await createNamespace();
    const registry = createRegistry(ns.cfg);
    const register = (subject: 'transactions' | 'settlements', schema: 'transaction' | 'settlement') =>
      registerSchema(registry, ns!.cfg.registryUrl, valueSubject(ns!.cfg.topicNamespace, subject), schemaText(schema));
    const ids = {
      schemaId: await register('transactions', 'transaction'),
      foreignId: await register('settlements', 'settlement'),
      unknownId: 987_654,
    };
    const generated = fc.sample(generatedTransactionRecord(ids, Date.now() - 3_600_000), { numRuns: COUNT, seed: SEED });
    const records: GeneratedRecord[] = [...generated, ...generated.filter((r) => r.input.kind === 'generated').slice(0, RESENT)];

    // One partition: record i is at offset i, so each can be found in the end state.
    const topic = topicName(ns.cfg.topicNamespace, 'transactions');
    const producer = createKafka(ns.cfg, testLogger).producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    for (let i = 0; i < records.length; i += 1_000)
      await producer.send({
        topic,
        acks: -1,
        messages: records.slice(i, i + 1_000).map((r) => ({ partition: 0, key: r.key, value: r.value })),
      });
    await producer.disconnect();

    const run = spawnIngest(ns, ['--drain']);
    expect(await run.exited, run.output()).toBe(0);
    const state = await readEndState(ns);
    expect(state.lag).toBe(0);

    // Every record in exactly one place.
    const conn = await createConnection(ns.cfg);
    const [stored] = await conn.query<RowDataPacket[]>('SELECT src_offset FROM transactions WHERE src_partition = 0');
    const [dups] = await conn.query<RowDataPacket[]>('SELECT src_offset FROM transaction_duplicates WHERE src_partition = 0');
    const dead = state.deadLetters.map((d) => Number(d.source.split('/')[2]));
    const placed = [...stored.map((r) => Number(r.src_offset)), ...dups.map((r) => Number(r.src_offset)), ...dead].sort(
      (a, b) => a - b,
    );
    expect(placed).toEqual(records.map((_, i) => i));
    // What can never be valid is dead-lettered, each with its reason.
    const deadAt = new Set(dead);
    const never = records.flatMap((r, i) => (r.input.kind !== 'generated' && NEVER_VALID.has(r.input.kind) ? [i] : []));
    expect(never.length).toBeGreaterThan(500);
    expect(never.filter((i) => !deadAt.has(i))).toEqual([]);
    for (const d of state.deadLetters) {
      expect(d.errorClass).toMatch(/^[A-Z_]+$/);
      expect(d.errorMessage.length).toBeGreaterThan(0);
      expect(containsPan(d.errorMessage), d.errorMessage).toBe(false);
      expect(containsPan(d.originalValue?.toString('latin1') ?? '')).toBe(false);
    }
    // Both outcomes happened in numbers, and every re-send of a stored record is a duplicate.
    expect(stored.length).toBeGreaterThan(1_000);
    expect(Object.keys(countByClass(state.deadLetters))).toEqual(
      expect.arrayContaining(['DECODE_FAILED', 'UNKNOWN_SCHEMA_ID', 'VALIDATION_FAILED']),
    );
    const storedAt = new Set(stored.map((r) => Number(r.src_offset)));
    const dupAt = new Set(dups.map((r) => Number(r.src_offset)));
    const firsts = generated.flatMap((r, i) => (r.input.kind === 'generated' ? [i] : [])).slice(0, RESENT);
    firsts.forEach((first, k) => {
      if (storedAt.has(first)) expect(dupAt.has(COUNT + k), `re-send of offset ${first}`).toBe(true);
    });
    // No card number in any stored text, nor typed into the amount.
    const [texts] = await conn.query<RowDataPacket[]>(
      "SELECT CONCAT_WS('|', transaction_id, idempotency_key, account_id, card_token, card_last4, merchant_id, mcc, device_id, reference, parent_transaction_id, amount_minor) AS t FROM transactions",
    );
    await conn.end();
    expect(texts.length).toBe(stored.length);
    expect(texts.filter((r) => containsPan(String(r.t)))).toEqual([]);
  });
});
