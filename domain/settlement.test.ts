import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_FIELD_CHARS, MAX_AMOUNT_MINOR, MIN_EVENT_TIME } from './transaction.ts';
import { parseIsoDate, validateSettlement, type Settlement } from './settlement.ts';

const DAY_MS = 86_400_000;
const eventTime = Date.parse('2026-01-01T12:00:00Z');
const day = Math.floor(eventTime / DAY_MS);
const base: Settlement = {
  settlement_id: 'st-1',
  transaction_reference: 'ref-1',
  amount_minor: 1999,
  currency: 'USD',
  settlement_date: day + 1,
  batch_id: 'b-1',
  fee_minor: 25,
  event_time: eventTime,
};
const limits = { recordTimestamp: eventTime + 5_000, maxFutureSkewMs: 60_000 };
const problemsOf = (patch: Partial<Settlement>): string[] => {
  const r = validateSettlement({ ...base, ...patch }, limits);
  if (r.ok) return [];
  expect(r.code).toBe('VALIDATION_FAILED');
  return r.problems;
};
const id = (f: string) => `${f} must be 1-64 printable ASCII characters without spaces`;

// Each rule with its exact message and its boundary (the mutation run showed them unpinned: the
// settlement's checks were tested only through the CSV import and the generated lines).
describe('validateSettlement', () => {
  it('accepts a well-formed line', () => {
    expect(validateSettlement(base, limits)).toEqual({ ok: true });
  });

  it.each([
    [{ settlement_id: '' }, id('settlement_id')],
    [{ transaction_reference: 'a b' }, id('transaction_reference')],
    [{ batch_id: 'b'.repeat(65) }, id('batch_id')],
    [{ amount_minor: 1.5 }, `amount_minor must be an integer of at most ${MAX_AMOUNT_MINOR} in magnitude (got 1.5)`],
    [
      { amount_minor: -(MAX_AMOUNT_MINOR + 2) },
      `amount_minor must be an integer of at most ${MAX_AMOUNT_MINOR} in magnitude (got ${-(MAX_AMOUNT_MINOR + 2)})`,
    ],
    [{ fee_minor: -1 }, 'fee_minor must be a non-negative integer (got -1)'],
    [{ fee_minor: 0.5 }, 'fee_minor must be a non-negative integer (got 0.5)'],
    [{ fee_minor: MAX_AMOUNT_MINOR + 2 }, `fee_minor must be a non-negative integer (got ${MAX_AMOUNT_MINOR + 2})`],
    [{ currency: 'QQQQQQQQQQ' }, 'currency "QQQQQQQQ" is not an active ISO 4217 code'],
    [{ event_time: MIN_EVENT_TIME - 1, settlement_date: 10_957 }, `event_time ${MIN_EVENT_TIME - 1} is before 2000-01-01`],
    [{ event_time: 1.5e12 + 0.5 }, 'event_time 1500000000000.5 is before 2000-01-01'],
    [
      { event_time: limits.recordTimestamp + limits.maxFutureSkewMs + 1 },
      "event_time 2026-01-01T12:01:05.001Z is more than 60000 ms after the record's timestamp",
    ],
    [{ settlement_date: 10_956 }, 'settlement_date 10956 is not a date on or after 2000-01-01'],
    [{ settlement_date: day + 0.5 }, `settlement_date ${day + 0.5} is not a date on or after 2000-01-01`],
    [
      { settlement_date: day + 8 },
      'settlement_date 2026-01-09 is more than 7 days after the event time 2026-01-01T12:00:00.000Z',
    ],
  ] as Array<[Partial<Settlement>, string]>)('%o: exactly "%s"', (patch, message) => {
    expect(problemsOf(patch)).toEqual([message]);
  });

  it.each([
    { amount_minor: MAX_AMOUNT_MINOR },
    { amount_minor: -MAX_AMOUNT_MINOR },
    { amount_minor: 0 },
    { fee_minor: 0 },
    { fee_minor: MAX_AMOUNT_MINOR },
    { event_time: MIN_EVENT_TIME, settlement_date: 10_957 },
    { event_time: limits.recordTimestamp + limits.maxFutureSkewMs },
    { settlement_date: 10_957, event_time: MIN_EVENT_TIME + DAY_MS },
    { settlement_date: day + 7 },
    { settlement_date: day - 400 },
  ] as Array<Partial<Settlement>>)('accepts the edge %o', (patch) => {
    expect(validateSettlement({ ...base, ...patch }, limits)).toEqual({ ok: true });
  });

  it('lists every problem of a line, in order', () => {
    expect(problemsOf({ batch_id: '', fee_minor: -2, currency: 'usd', settlement_date: 1 })).toEqual([
      id('batch_id'),
      'fee_minor must be a non-negative integer (got -2)',
      'currency "usd" is not an active ISO 4217 code',
      'settlement_date 1 is not a date on or after 2000-01-01',
    ]);
  });

  it('refuses fields longer than the cap first, each named, without scanning them', () => {
    const long = '4111111111111111 '.repeat(20).slice(0, DEFAULT_MAX_FIELD_CHARS + 1);
    expect(validateSettlement({ ...base, transaction_reference: long, batch_id: long }, limits)).toEqual({
      ok: false,
      code: 'OVERSIZED',
      problems: [
        `transaction_reference is longer than the ${DEFAULT_MAX_FIELD_CHARS} characters accepted for a field`,
        `batch_id is longer than the ${DEFAULT_MAX_FIELD_CHARS} characters accepted for a field`,
      ],
    });
    // At the cap, a field is judged as any other; the cap comes from the limits when given.
    expect(problemsOf({ batch_id: 'b'.repeat(DEFAULT_MAX_FIELD_CHARS) })).toEqual([id('batch_id')]);
    expect(validateSettlement({ ...base, batch_id: 'b-12' }, { ...limits, maxFieldChars: 3 })).toMatchObject({
      code: 'OVERSIZED',
      problems: expect.arrayContaining(['batch_id is longer than the 3 characters accepted for a field']),
    });
    expect(validateSettlement(base, { ...limits, maxFieldChars: 5 })).toEqual({ ok: true });
  });

  it('names the fields with a card number, never quoting them, and card numbers typed into amounts', () => {
    const pan = '4111111111111111';
    expect(validateSettlement({ ...base, transaction_reference: `ref ${pan}` }, limits)).toEqual({
      ok: false,
      code: 'PAN_DETECTED',
      problems: ['transaction_reference carries a raw card number (PAN)'],
    });
    expect(validateSettlement({ ...base, settlement_id: pan, batch_id: `b-${pan}` }, limits)).toEqual({
      ok: false,
      code: 'PAN_DETECTED',
      problems: ['settlement_id, batch_id carry a raw card number (PAN)'],
    });
    expect(validateSettlement({ ...base, amount_minor: -Number(pan), fee_minor: Number(pan) }, limits)).toEqual({
      ok: false,
      code: 'PAN_DETECTED',
      problems: [
        'amount_minor is a 16-digit number (not shown: it reads as a card number); only amounts are accepted',
        'fee_minor is a 16-digit number (not shown: it reads as a card number); only amounts are accepted',
      ],
    });
    // Numbers are not strings: an amount that is not a card number is judged as an amount.
    expect(validateSettlement({ ...base, amount_minor: 4111 }, limits)).toEqual({ ok: true });
  });
});

describe('parseIsoDate', () => {
  it('reads a calendar date as days since 1970-01-01', () => {
    expect(parseIsoDate('1970-01-01')).toBe(0);
    expect(parseIsoDate('2026-01-01')).toBe(day);
    expect(parseIsoDate('2024-02-29')).toBe(Date.parse('2024-02-29T00:00:00Z') / DAY_MS);
  });

  it.each(['2026-02-30', '2025-02-29', '2026-13-01', 'x2026-01-01', '2026-01-01x', '2026-1-01', '', '2026-01-01T00:00:00Z'])(
    'refuses %j',
    (text) => {
      expect(parseIsoDate(text)).toBeNull();
    },
  );
});
