import { describe, expect, it } from 'vitest';
import { exceptionId, groupChange, toAvroRecord, type StoredResult } from './changes.ts';
import { avroType } from '../schemas/index.ts';
import type { GroupOutcome, ReconStatus } from './match.ts';

const outcome = (status: ReconStatus, over: Partial<GroupOutcome> = {}): GroupOutcome => ({
  status,
  raw: status === 'PENDING' ? 'MISSING_SETTLEMENT' : status,
  expectedMinor: 1000n,
  settledMinor: status === 'MATCHED' ? 1000n : 0n,
  currency: 'USD',
  deadline: 5_000,
  businessDate: 20_000,
  reason: 'r',
  ...over,
});
const members = { transactionIds: ['t2', 't1'], settlementIds: [] };

function stored(status: ReconStatus, revision = 1, over: Partial<StoredResult> = {}): StoredResult {
  const o = outcome(status);
  return {
    reference: 'ref',
    status,
    reason: o.reason,
    expectedMinor: o.expectedMinor,
    settledMinor: o.settledMinor,
    currency: o.currency,
    transactions: 2,
    settlementLines: 0,
    businessDate: o.businessDate,
    deadline: o.deadline,
    revision,
    exceptionSince: null,
    ...over,
  };
}

describe('groupChange', () => {
  it('nothing when the outcome equals what is stored (a replay)', () => {
    expect(groupChange('ref', stored('MISSING_SETTLEMENT'), outcome('MISSING_SETTLEMENT'), members, 1, 2)).toBeNull();
  });

  it('a new pending or matched group is stored silently', () => {
    for (const s of ['PENDING', 'MATCHED'] as const) {
      const c = groupChange('ref', null, outcome(s), members, 1, 2);
      expect(c?.row.revision).toBe(1);
      expect(c?.event).toBeNull();
    }
  });

  it('entering an exception publishes an event with a deterministic id and sorted members', () => {
    const c = groupChange('ref', stored('PENDING', 3), outcome('MISSING_SETTLEMENT'), members, 7, 99);
    expect(c?.row).toMatchObject({ status: 'MISSING_SETTLEMENT', revision: 4, exceptionSince: 99 });
    expect(c?.event).toMatchObject({
      exception_id: exceptionId('ref', 4),
      status: 'MISSING_SETTLEMENT',
      previous_status: 'PENDING',
      transaction_ids: ['t1', 't2'],
      expected_minor: '1000',
      watermark: 7,
      detected_at: 99,
    });
    expect(exceptionId('ref', 4)).not.toBe(exceptionId('ref', 5));
    expect(exceptionId('ref', 4)).toMatch(/^[0-9a-f]{32}$/);
  });

  it('leaving an exception publishes the clearing; the first exception time is kept', () => {
    const c = groupChange('ref', stored('UNEXPECTED_SETTLEMENT', 1, { exceptionSince: 5 }), outcome('MATCHED'), members, 1, 50);
    expect(c?.event?.status).toBe('MATCHED');
    expect(c?.event?.previous_status).toBe('UNEXPECTED_SETTLEMENT');
    expect(c?.row.exceptionSince).toBe(5);
  });

  it('a change within an exception that moves the amounts publishes; one that does not is silent', () => {
    const prev = stored('AMOUNT_MISMATCH', 2, { settledMinor: 400n });
    expect(
      groupChange('ref', prev, outcome('AMOUNT_MISMATCH', { settledMinor: 700n }), members, 1, 2)?.event?.settled_minor,
    ).toBe('700');
    const silent = groupChange('ref', prev, outcome('AMOUNT_MISMATCH', { settledMinor: 400n, deadline: 9_000 }), members, 1, 2);
    expect(silent?.row.deadline).toBe(9_000);
    expect(silent?.event).toBeNull();
  });

  it('encodes every amount exactly in Avro, beyond 2^53 too', () => {
    const e = groupChange(
      'ref',
      null,
      outcome('AMOUNT_MISMATCH', { settledMinor: 9_007_199_254_740_993n }),
      members,
      1,
      2,
    )!.event!;
    const type = avroType('recon-exception', { bigintLongs: true });
    const back = type.fromBuffer(type.toBuffer(toAvroRecord(e))) as Record<string, unknown>;
    expect(back).toMatchObject({
      expected_minor: 1000n,
      settled_minor: 9_007_199_254_740_993n,
      deadline: 5_000,
      detected_at: 2,
    });
    // Readers with plain number longs read ordinary values as numbers.
    const small = groupChange('ref', null, outcome('AMOUNT_MISMATCH', { settledMinor: 123n }), members, 1, 2)!.event!;
    expect(avroType('recon-exception').fromBuffer(type.toBuffer(toAvroRecord(small)))).toMatchObject({
      settled_minor: 123,
      deadline: 5_000,
    });
  });
});

// What the mutation run showed unpinned: each stored column alone makes a change, each amount or
// status alone makes an exception's event, the reason's cut, the ids' order and the null amount.
describe('groupChange: each difference on its own', () => {
  const prev = stored('AMOUNT_MISMATCH', 3, { exceptionSince: 7 });
  it.each([
    ['reason', { reason: 'another reason' }],
    ['expectedMinor', { expectedMinor: 999n }],
    ['settledMinor', { settledMinor: 1n }],
    ['currency', { currency: 'EUR' }],
    ['businessDate', { businessDate: 20_001 }],
    ['deadline', { deadline: 5_001 }],
  ] as Array<[string, Partial<GroupOutcome>]>)('a changed %s alone is a new revision', (_, over) => {
    const c = groupChange('ref', prev, outcome('AMOUNT_MISMATCH', over), members, 1, 2);
    expect(c?.row).toMatchObject({ revision: 4, exceptionSince: 7, ...over });
  });

  it.each([
    ['transactions', { transactionIds: ['t1'], settlementIds: [] }],
    ['settlement lines', { transactionIds: ['t2', 't1'], settlementIds: ['s1'] }],
  ])('a changed count of %s alone is a new revision', (_, m) => {
    const c = groupChange('ref', prev, outcome('AMOUNT_MISMATCH'), m, 1, 2);
    expect(c?.row.revision).toBe(4);
    expect(c?.row.transactions).toBe(m.transactionIds.length);
    expect(c?.row.settlementLines).toBe(m.settlementIds.length);
  });

  it.each([
    ['expected amount', { expectedMinor: 999n }],
    ['settled amount', { settledMinor: 1n }],
    ['currency', { currency: 'EUR' }],
  ] as Array<[string, Partial<GroupOutcome>]>)("an exception's changed %s alone is published", (_, over) => {
    const c = groupChange('ref', prev, outcome('AMOUNT_MISMATCH', over), members, 1, 2);
    expect(c?.event).toMatchObject({ status: 'AMOUNT_MISMATCH', previous_status: 'AMOUNT_MISMATCH', revision: 4 });
  });

  it("an exception's changed status alone is published; its reason or deadline alone is stored silently", () => {
    const status = groupChange('ref', prev, outcome('MISSING_SETTLEMENT', { settledMinor: 1000n }), members, 1, 2);
    expect(status?.event).toMatchObject({ status: 'MISSING_SETTLEMENT', previous_status: 'AMOUNT_MISMATCH' });
    for (const over of [{ reason: 'reworded' }, { deadline: 9_999 }]) {
      const c = groupChange('ref', prev, outcome('AMOUNT_MISMATCH', over), members, 1, 2);
      expect(c?.row.revision).toBe(4);
      expect(c?.event).toBeNull();
    }
  });

  it('stores at most 255 characters of the reason, and the same cut reason again is no change', () => {
    const long = 'x'.repeat(300);
    const c = groupChange('ref', null, outcome('AMOUNT_MISMATCH', { reason: long }), members, 1, 2);
    expect(c?.row.reason).toBe('x'.repeat(255));
    expect(c?.event?.reason).toBe('x'.repeat(255));
    expect(groupChange('ref', c!.row, outcome('AMOUNT_MISMATCH', { reason: long }), members, 1, 2)).toBeNull();
  });

  it('lists the ids sorted, and at most MAX_IDS_PER_EVENT of each', () => {
    const many = Array.from({ length: 150 }, (_, i) => `s${String(149 - i).padStart(3, '0')}`);
    const c = groupChange(
      'ref',
      null,
      outcome('AMOUNT_MISMATCH'),
      { transactionIds: ['t9', 't1', 't5'], settlementIds: many },
      1,
      2,
    );
    expect(c?.event?.transaction_ids).toEqual(['t1', 't5', 't9']);
    expect(c?.event?.settlement_ids).toEqual(many.slice().sort().slice(0, 100));
  });

  it('an unknown expected amount (no transaction) is null in the event and in its Avro record', () => {
    const c = groupChange(
      'ref',
      null,
      outcome('UNEXPECTED_SETTLEMENT', { expectedMinor: null, settledMinor: 250n }),
      members,
      1,
      2,
    );
    expect(c?.event).toMatchObject({ expected_minor: null, settled_minor: '250' });
    expect(toAvroRecord(c!.event!)).toMatchObject({ expected_minor: null, settled_minor: 250n });
    const known = groupChange('ref', null, outcome('AMOUNT_MISMATCH', { expectedMinor: 12n, settledMinor: 3n }), members, 1, 2);
    expect(toAvroRecord(known!.event!)).toMatchObject({ expected_minor: 12n, settled_minor: 3n });
  });
});
