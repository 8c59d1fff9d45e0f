import { describe, expect, it } from 'vitest';
import { sampleTransaction } from '../domain/transaction.fixture.ts';
import type { Transaction } from '../domain/transaction.ts';
import { PoisonRecordError } from '../platform/errors.ts';
import { avroType, schemaText } from '../schemas/index.ts';
import fc from 'fast-check';
import { containsPan } from '../domain/pan.ts';
import { arbAfter, arbBefore, arbFormat, arbPan } from '../domain/pan.fixture.ts';
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

  it('scrubs card data from the dead letter of an invalid record: token, last four, BIN, coordinates', () => {
    const located = { ...tx, card_bin: '411111', latitude: 51.5, longitude: -0.12, currency: 'ZZZ' };
    const out = classify([record(type.toBuffer(located), 13)], ctx);
    const d = out.deadLetters[0];
    expect(d?.errorClass).toBe('VALIDATION_FAILED');
    expect(d?.redacted).toBe(true);
    const stored = type.fromBuffer((d?.value as Buffer).subarray(5)) as Transaction;
    expect(stored).toMatchObject({
      transaction_id: tx.transaction_id,
      currency: 'ZZZ',
      card_token: 'REDACTED',
      card_last4: null,
      card_bin: null,
      latitude: null,
      longitude: null,
    });
    expect((d?.value as Buffer).includes(tx.card_token)).toBe(false);
  });

  // Every string field of the schema, read off schemas/transaction.avsc: a field added later is covered.
  const stringFields = (JSON.parse(schemaText('transaction')) as { fields: Array<{ name: string; type: unknown }> }).fields
    .filter((f) => f.type === 'string' || (Array.isArray(f.type) && f.type.includes('string')))
    .map((f) => f.name);

  it('knows the schema has the string fields this test walks', () => {
    expect(stringFields).toEqual(expect.arrayContaining(['transaction_id', 'reference', 'device_id', 'card_token', 'mcc']));
    expect(stringFields.length).toBeGreaterThanOrEqual(14);
  });

  it.each(
    stringFields.flatMap((f) => ['REF4111111111111111', 'dev.4111.1111.1111.1111', '5555_5555_5555_4444/27'].map((v) => [f, v])),
  )('dead-letters a card number in %s (%s) with it redacted', (field, pan) => {
    const out = classify([record(type.toBuffer({ ...tx, [field]: pan }), 20)], ctx);
    expect(out.valid).toEqual([]);
    const d = out.deadLetters[0];
    expect(d?.errorClass).toBe('PAN_DETECTED');
    expect(d?.errorMessage).toContain(field);
    expect(d?.redacted).toBe(true);
    const stored = type.fromBuffer((d?.value as Buffer).subarray(5)) as Record<string, unknown>;
    expect(stored[field]).toBe('REDACTED');
    expect(containsPan((d?.value as Buffer).toString('latin1'))).toBe(false);
    expect(JSON.stringify(d)).not.toMatch(/4111|5555/);
  });

  it('finds any generated card number in any string field, and masks it in undecodable bytes (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...stringFields),
        arbPan,
        arbFormat,
        arbBefore,
        arbAfter,
        (field, pan, format, before, after) => {
          const text = before + format(pan) + after;
          const value = type.toBuffer({ ...tx, [field]: text });
          const [decoded] = classify([record(value, 50)], ctx).deadLetters;
          expect(decoded?.errorClass).toBe('PAN_DETECTED');
          expect(containsPan((decoded?.value as Buffer).toString('utf8'))).toBe(false);
          // The same bytes behind a schema id nobody knows: kept as they came, but the card masked.
          const [raw] = classify([record(Buffer.concat([Buffer.from([0xff]), value]), 51)], ctx).deadLetters;
          expect(raw?.errorClass).toBe('DECODE_FAILED');
          expect(raw?.redacted).toBe(true);
          expect(containsPan((raw?.value as Buffer).toString('utf8'))).toBe(false);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('dead-letters a record over the size cap without decoding, scanning or keeping it', () => {
    const huge = type.toBuffer({ ...tx, reference: '4'.repeat(900_000) });
    let decoded = 0;
    const counting = { ...ctx, decode: (v: Buffer | null) => (decoded++, decode(v)) };
    const out = classify([record(huge, 30), record(type.toBuffer(tx), 31)], counting);
    expect(decoded).toBe(1);
    expect(out.valid.map((v) => v.position.offset)).toEqual(['31']);
    const d = out.deadLetters[0];
    expect(d).toMatchObject({ errorClass: 'OVERSIZED', value: null, redacted: true, key: Buffer.from('acc-1') });
    expect(d?.errorMessage).toMatch(/900\d{3} bytes .* more than the 16384 accepted/);
    expect(d?.position.offset).toBe('30');
  });

  it('dead-letters a field over the field cap, naming it and the limit, with the field redacted', () => {
    const capped = { ...ctx, caps: { maxRecordBytes: 64 * 1024, maxFieldChars: 256 } };
    const out = classify(
      [record(type.toBuffer({ ...tx, device_id: 'd'.repeat(300), reference: 'REF4111111111111111' }), 40)],
      capped,
    );
    const d = out.deadLetters[0];
    expect(d?.errorClass).toBe('OVERSIZED');
    expect(d?.errorMessage).toBe('device_id is 300 characters long, more than the 256 accepted for a field');
    const stored = type.fromBuffer((d?.value as Buffer).subarray(5)) as Transaction;
    // The oversized field is not kept; the card number in another field is still found and redacted.
    expect(stored).toMatchObject({ device_id: 'REDACTED', reference: 'REDACTED' });
  });
});
