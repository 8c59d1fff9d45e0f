// Issue 16 end to end: card numbers in any string field, glued to letters or split by dots and
// underscores, and oversized records and fields, through a real `txmon run ingest --drain` against
// the real broker, registry and MariaDB: they end in the dead-letter topic, scrubbed, never in MySQL.
import mysql, { type RowDataPacket } from 'mysql2/promise';
import { afterAll, describe, expect, it } from 'vitest';
import { containsPan } from '../../domain/pan.ts';
import { createKafka } from '../../platform/kafka.ts';
import { avroType } from '../../schemas/index.ts';
import type { Transaction } from '../../simulator/types.ts';
import { topicName } from '../../topics/topics.ts';
import { createNamespace, testLogger, type TestNamespace } from '../helpers/namespace.ts';
import { countByClass, readEndState, spawnIngest, transactionEncoder, validTransactions } from '../helpers/pipeline.ts';
import { produceRecords, readReconState, spawnReconcile } from '../helpers/recon.ts';
import type { Settlement } from '../../domain/settlement.ts';

let ns: TestNamespace | undefined;
let recon: TestNamespace | undefined;
afterAll(async () => {
  await ns?.cleanup();
  await recon?.cleanup();
});

describe('card numbers and oversized input, end to end', () => {
  it('dead-letters them scrubbed and stores only the clean records', async () => {
    ns = await createNamespace();
    const encode = await transactionEncoder(ns);
    const valid = validTransactions(43, 200);
    const base = valid[0] as Transaction;
    const bad = (id: string, patch: Partial<Transaction>): Transaction => ({
      ...base,
      transaction_id: id,
      idempotency_key: `idem-${id}`,
      card_token: 'tok_secret0001',
      card_last4: '1111',
      card_bin: '411111',
      latitude: 51.5,
      longitude: -0.12,
      ...patch,
    });
    const bads = [
      bad('tx-pan-ref', { reference: 'REF4111111111111111' }),
      bad('tx-pan-dev', { device_id: 'dev.4111.1111.1111.1111' }),
      bad('tx-pan-mer', { merchant_id: 'm-5555_5555_5555_4444' }),
      bad('tx-big-record', { reference: '4'.repeat(200_000) }),
      bad('tx-big-field', { device_id: 'd'.repeat(300) }),
      bad('tx-bad-currency', { currency: 'ZZZ' }),
    ];
    const topic = topicName(ns.cfg.topicNamespace, 'transactions');
    const producer = createKafka(ns.cfg, testLogger).producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    await producer.send({
      topic,
      acks: -1,
      messages: [...valid.slice(0, 20), ...bads, ...valid.slice(20)].map((tx) => ({
        key: tx.account_id,
        value: encode(tx),
      })),
    });
    await producer.disconnect();

    const run = spawnIngest(ns, ['--drain']);
    expect(await run.exited, run.output()).toBe(0);
    const state = await readEndState(ns);
    expect(state.transactionIds).toEqual(valid.map((t) => t.transaction_id).sort());
    expect(state.lag).toBe(0);
    expect(countByClass(state.deadLetters)).toEqual({ PAN_DETECTED: 3, OVERSIZED: 2, VALIDATION_FAILED: 1 });

    const dlqType = avroType('transaction');
    const scrubbed = state.deadLetters.filter((d) => d.originalValue !== null);
    expect(scrubbed).toHaveLength(5);
    for (const d of state.deadLetters) {
      expect(d.redacted).toBe(true);
      const bytes = d.originalValue?.toString('latin1') ?? '';
      expect(containsPan(bytes), bytes).toBe(false);
      expect(bytes).not.toContain('tok_secret0001');
    }
    for (const d of scrubbed) {
      const tx = dlqType.fromBuffer((d.originalValue as Buffer).subarray(5)) as Transaction;
      expect(tx).toMatchObject({ card_token: 'REDACTED', card_last4: null, card_bin: null, latitude: null, longitude: null });
    }
    const big = state.deadLetters.find((d) => d.originalValue === null);
    expect(big?.errorMessage).toMatch(/more than the 16384 accepted/);
    // Nothing of them in MySQL, and no card number in the processor's log.
    const conn = await mysql.createConnection({ uri: ns.cfg.mysql.url });
    const [[row]] = await conn.query<RowDataPacket[]>(
      "SELECT COUNT(*) AS n FROM transactions WHERE transaction_id LIKE 'tx-pan-%' OR transaction_id LIKE 'tx-big-%' OR reference LIKE '%4111%' OR device_id LIKE '%4111%'",
    );
    await conn.end();
    expect(Number(row?.n)).toBe(0);
    expect(containsPan(run.output().replace(/"time":\d+/g, ''))).toBe(false);
  });

  it('dead-letters settlement lines with card numbers or oversized, never storing them', async () => {
    recon = await createNamespace();
    const line = (id: string, patch: Partial<Settlement> = {}): Settlement => ({
      settlement_id: id,
      transaction_reference: `ref-${id}`,
      amount_minor: 500,
      currency: 'GBP',
      settlement_date: 20_468, // 2026-01-15
      batch_id: 'b-1',
      fee_minor: 0,
      event_time: Date.parse('2026-01-15T10:00:00Z'),
      ...patch,
    });
    await produceRecords(recon, 'settlements', [
      line('s-ok-1'),
      line('s-pan-ref', { transaction_reference: 'REF4111111111111111' }),
      line('s-pan-batch', { batch_id: 'batch.4111.1111.1111.1111' }),
      line('s-big', { batch_id: '4'.repeat(200_000) }),
      line('s-ok-2'),
    ]);
    const run = spawnReconcile(recon, ['--drain']);
    expect(await run.exited, run.output()).toBe(0);
    const state = await readReconState(recon);
    expect(state.settlements).toBe(2);
    expect(state.deadLetters.map((d) => d.errorClass).sort()).toEqual(['OVERSIZED', 'PAN_DETECTED', 'PAN_DETECTED']);
    for (const d of state.deadLetters) expect(containsPan(d.value), d.value).toBe(false);
    expect(state.deadLetters.find((d) => d.errorClass === 'OVERSIZED')?.value).toBe('');
    expect(containsPan(run.output().replace(/"time":\d+/g, ''))).toBe(false);
  });
});
