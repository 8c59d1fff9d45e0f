import { describe, expect, it } from 'vitest';
import { sampleTransaction } from '../../domain/transaction.fixture.ts';
import type { Transaction } from '../../domain/transaction.ts';
import { PoisonRecordError } from '../../platform/errors.ts';
import { avroType } from '../../schemas/index.ts';
import { classify, redactor, type RawRecord } from './classify.ts';

const type = avroType('transaction');
const tx = sampleTransaction({
  account_id: 'acc-1',
  card_token: 'tok_1',
  card_last4: '1111',
  merchant_country: 'GB',
  amount_minor: 500,
  currency: 'GBP',
});
// A decoder over plain Avro (no registry framing): byte 0xff marks an undecodable record.
const decode = (v: Buffer | null): Transaction => {
  if (!v || v[0] === 0xff) throw new PoisonRecordError('DECODE_FAILED', 'bad bytes');
  return type.fromBuffer(v) as Transaction;
};
const record = (value: Buffer, offset: number): RawRecord => ({
  key: Buffer.from('acc-1'),
  value,
  offset: String(offset),
  timestamp: String(tx.event_time + 1000),
});
const ctx = { topic: 't', partition: 2, decode, maxFutureSkewMs: 60_000, redact: redactor(type, 7) };

describe('classify', () => {
  it('splits valid records from dead letters, keeping positions and reasons', () => {
    const out = classify(
      [
        record(type.toBuffer(tx), 10),
        record(Buffer.from([0xff, 1]), 11),
        record(type.toBuffer({ ...tx, transaction_id: 'tx-2', currency: 'ZZZ' }), 12),
      ],
      ctx,
    );
    expect(out.valid.map((v) => [v.tx.transaction_id, v.position.offset])).toEqual([['tx-1', '10']]);
    expect(out.deadLetters.map((d) => [d.position.offset, d.errorClass])).toEqual([
      ['11', 'DECODE_FAILED'],
      ['12', 'VALIDATION_FAILED'],
    ]);
    expect(out.deadLetters[1]?.errorMessage).toMatch(/currency "ZZZ"/);
    expect(out.deadLetters[0]?.value).toEqual(Buffer.from([0xff, 1])); // original bytes kept
  });

  it('dead-letters a card number in any id field, redacted, and never quotes it', () => {
    const out = classify([record(type.toBuffer({ ...tx, reference: 'ref 4111-1111-1111-1111' }), 5)], ctx);
    const d = out.deadLetters[0];
    expect(d?.errorClass).toBe('PAN_DETECTED');
    expect(d?.errorMessage).toContain('reference');
    expect(d?.redacted).toBe(true);
    const stored = type.fromBuffer((d?.value as Buffer).subarray(5)) as Transaction;
    expect(stored.reference).toBe('REDACTED');
    expect(JSON.stringify(d)).not.toMatch(/4111/);
  });

  it('masks card numbers inside undecodable bytes', () => {
    const out = classify([record(Buffer.concat([Buffer.from([0xff]), Buffer.from('4111111111111111')]), 6)], ctx);
    expect(out.deadLetters[0]?.redacted).toBe(true);
    expect(out.deadLetters[0]?.value?.toString('latin1')).toBe('\xff****************');
  });
});
