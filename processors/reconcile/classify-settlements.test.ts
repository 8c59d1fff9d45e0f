import { describe, expect, it } from 'vitest';
import { containsPan } from '../../domain/pan.ts';
import type { Settlement } from '../../domain/settlement.ts';
import { PoisonRecordError } from '../../platform/errors.ts';
import { avroType, schemaText } from '../../schemas/index.ts';
import type { RawRecord } from '../classify.ts';
import { classifySettlements } from './classify-settlements.ts';

const type = avroType('settlement');
const line: Settlement = {
  settlement_id: 's-1',
  transaction_reference: 'ref-1',
  amount_minor: 500,
  currency: 'GBP',
  settlement_date: 20_468, // 2026-01-15
  batch_id: 'b-1',
  fee_minor: 0,
  event_time: Date.parse('2026-01-15T10:00:00Z'),
};
const decode = (v: Buffer | null): Settlement => {
  if (!v || v[0] === 0xff) throw new PoisonRecordError('DECODE_FAILED', 'bad bytes');
  return type.fromBuffer(v) as Settlement;
};
const record = (value: Buffer, offset: number): RawRecord => ({
  key: Buffer.from('ref-1'),
  value,
  offset: String(offset),
  timestamp: String(line.event_time + 1000),
});
const ctx = { topic: 'settlements', partition: 0, decode, maxFutureSkewMs: 60_000 };

// Every string field of schemas/settlement.avsc: a field added later is covered.
const stringFields = (JSON.parse(schemaText('settlement')) as { fields: Array<{ name: string; type: unknown }> }).fields
  .filter((f) => f.type === 'string' || (Array.isArray(f.type) && f.type.includes('string')))
  .map((f) => f.name);

describe('classifySettlements', () => {
  it('accepts a well-formed line', () => {
    expect(classifySettlements([record(type.toBuffer(line), 1)], ctx).valid).toHaveLength(1);
    expect(stringFields).toEqual(['settlement_id', 'transaction_reference', 'currency', 'batch_id']);
  });

  it.each(stringFields)('dead-letters a card number glued to letters in %s, masked in the dead letter', (field) => {
    const out = classifySettlements([record(type.toBuffer({ ...line, [field]: 'REF4111111111111111' }), 2)], ctx);
    expect(out.valid).toEqual([]);
    const d = out.deadLetters[0];
    expect(d).toMatchObject({ errorClass: 'PAN_DETECTED', redacted: true });
    expect(d?.errorMessage).toContain(field);
    expect(containsPan((d?.value as Buffer).toString('latin1'))).toBe(false);
    expect((d?.value as Buffer).toString('latin1')).toContain('REF****************');
  });

  it('dead-letters an oversized record unread and an oversized field by name', () => {
    const out = classifySettlements(
      [
        record(type.toBuffer({ ...line, batch_id: '5'.repeat(900_000) }), 3),
        record(type.toBuffer({ ...line, settlement_id: 's'.repeat(300) }), 4),
      ],
      ctx,
    );
    expect(out.deadLetters.map((d) => [d.position.offset, d.errorClass, d.value === null])).toEqual([
      ['3', 'OVERSIZED', true],
      ['4', 'OVERSIZED', false],
    ]);
    expect(out.deadLetters[1]?.errorMessage).toBe('settlement_id is longer than the 256 characters accepted for a field');
  });
});
