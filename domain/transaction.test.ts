import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { sampleTransaction } from './transaction.fixture.ts';
import {
  DEFAULT_MAX_FIELD_CHARS,
  MAX_AMOUNT_MINOR,
  MIN_EVENT_TIME,
  validateTransaction,
  type Transaction,
} from './transaction.ts';

const base = sampleTransaction();
const limits = { recordTimestamp: Date.parse('2026-01-01T00:00:05Z'), maxFutureSkewMs: 60_000 };

describe('validateTransaction', () => {
  it('accepts a well-formed transaction', () => {
    expect(validateTransaction(base, limits)).toEqual({ ok: true });
  });

  it.each([
    [{ amount_minor: 0 }, 'amount_minor'],
    [{ amount_minor: -5 }, 'amount_minor'],
    [{ amount_minor: 1.5 }, 'amount_minor'],
    [{ currency: 'ZZZ' }, 'currency'],
    [{ account_id: '' }, 'account_id'],
    [{ transaction_id: 'has space' }, 'transaction_id'],
    [{ mcc: '12a' }, 'mcc'],
    [{ merchant_country: 'usa' }, 'merchant_country'],
    [{ card_last4: '12345' }, 'card_last4'],
    [{ card_bin: '41111111111' }, 'card_bin'],
    [{ event_time: Date.parse('1999-12-31T00:00:00Z') }, 'event_time'],
    [{ event_time: limits.recordTimestamp + 120_000 }, 'event_time'],
    [{ latitude: 91, longitude: 0 }, 'latitude'],
    [{ latitude: 10 }, 'latitude and longitude'],
  ] as Array<[Partial<Transaction>, string]>)('rejects %o naming %s', (patch, field) => {
    const r = validateTransaction({ ...base, ...patch }, limits);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.code).toBe('VALIDATION_FAILED');
      expect(r.problems.join(' ')).toContain(field);
    }
  });

  it('accepts an event time within the allowed skew ahead of the record timestamp', () => {
    expect(validateTransaction({ ...base, event_time: limits.recordTimestamp + 59_000 }, limits).ok).toBe(true);
  });

  it('rejects a raw card number without quoting it', () => {
    const r = validateTransaction({ ...base, card_token: '4111111111111111' }, limits);
    expect(r).toMatchObject({ ok: false, code: 'PAN_DETECTED' });
    expect(JSON.stringify(r)).not.toContain('4111111111111111');
  });

  it('accepts an all-digit token that fails Luhn (format-preserving tokens)', () => {
    expect(validateTransaction({ ...base, card_token: '4111111111111112' }, limits).ok).toBe(true);
  });

  it('is deterministic: the same record and timestamp always give the same answer', () => {
    fc.assert(
      fc.property(fc.integer({ min: -10, max: 1e12 }), fc.string({ maxLength: 5 }), (amount, currency) => {
        const tx = { ...base, amount_minor: amount, currency };
        expect(validateTransaction(tx, limits)).toEqual(validateTransaction(tx, limits));
      }),
    );
  });
});

// Each rule with its exact message and its boundary, so that a changed bound, a dropped check or a
// reworded problem fails here (the mutation run, `npm run mutation`, showed them unpinned).
describe('validateTransaction: every rule, its boundary and its message', () => {
  const problemsOf = (patch: Partial<Transaction>, l = limits): string[] => {
    const r = validateTransaction({ ...base, ...patch }, l);
    if (r.ok) return [];
    expect(r.code).toBe('VALIDATION_FAILED');
    expect(r.redact).toEqual([]);
    return r.problems;
  };
  const ids = (name: string, max: 64 | 128) => `${name} must be 1-${max} printable ASCII characters without spaces`;

  it.each([
    [{ transaction_id: 'has space' }, ids('transaction_id', 64)],
    [{ idempotency_key: 'k'.repeat(129) }, ids('idempotency_key', 128)],
    [{ account_id: '' }, ids('account_id', 64)],
    [{ merchant_id: 'm '.repeat(3) }, ids('merchant_id', 64)],
    [{ card_token: 'tok ab' }, 'card_token must be 1-64 printable ASCII characters without spaces'],
    [{ card_last4: '42a2' }, 'card_last4 must be exactly 4 digits'],
    [{ card_bin: '42424' }, 'card_bin must be 6 to 8 digits'],
    [{ device_id: 'dev ice' }, ids('device_id', 64)],
    [{ reference: 'r'.repeat(65) }, ids('reference', 64)],
    [{ parent_transaction_id: 'p\u00e9re' }, ids('parent_transaction_id', 64)],
    [{ mcc: 'abcdefghijk' }, 'mcc must be 4 digits (got "abcdefgh")'],
    [{ merchant_country: 'usa-and-more' }, 'merchant_country must be ISO 3166-1 alpha-2 (got "usa-and-")'],
    [{ ip_country: 'gbr-and-more' }, 'ip_country must be ISO 3166-1 alpha-2 (got "gbr-and-")'],
    [{ amount_minor: 0 }, 'amount_minor must be a positive integer (got 0)'],
    [{ amount_minor: 2.5 }, 'amount_minor must be a positive integer (got 2.5)'],
    [{ amount_minor: MAX_AMOUNT_MINOR + 2 }, `amount_minor ${MAX_AMOUNT_MINOR + 2} exceeds the sanity bound ${MAX_AMOUNT_MINOR}`],
    [{ currency: 'ZZZZZZZZZZ' }, 'currency "ZZZZZZZZ" is not an active ISO 4217 code'],
    [{ event_time: MIN_EVENT_TIME - 1 }, `event_time ${MIN_EVENT_TIME - 1} is before 2000-01-01`],
    [
      { event_time: limits.recordTimestamp + limits.maxFutureSkewMs + 1 },
      "event_time 2026-01-01T00:01:05.001Z is more than 60000 ms after the record's Kafka timestamp",
    ],
    [{ latitude: 90.5, longitude: 0 }, 'latitude must be within [-90, 90]'],
    [{ latitude: Number.NaN, longitude: 0 }, 'latitude must be within [-90, 90]'],
    [{ latitude: 0, longitude: -180.5 }, 'longitude must be within [-180, 180]'],
    [{ latitude: 0, longitude: Number.POSITIVE_INFINITY }, 'longitude must be within [-180, 180]'],
    [{ latitude: null, longitude: 10 }, 'latitude and longitude must be given together'],
  ] as Array<[Partial<Transaction>, string]>)('%o: exactly "%s"', (patch, message) => {
    expect(problemsOf(patch)).toEqual([message]);
  });

  it.each([
    { idempotency_key: 'k'.repeat(128) },
    { transaction_id: 't'.repeat(64) },
    { card_last4: null },
    { card_bin: null },
    { card_bin: '123456' },
    { card_bin: '12345678' },
    { device_id: 'dev-1' },
    { reference: 'ref-1' },
    { parent_transaction_id: 'tx-0' },
    { ip_country: 'GB' },
    { amount_minor: MAX_AMOUNT_MINOR },
    { amount_minor: 1 },
    { event_time: MIN_EVENT_TIME },
    { event_time: limits.recordTimestamp + limits.maxFutureSkewMs },
    { latitude: 90, longitude: 180 },
    { latitude: -90, longitude: -180 },
  ] as Array<Partial<Transaction>>)('accepts the edge %o', (patch) => {
    expect(validateTransaction({ ...base, ...patch }, limits)).toEqual({ ok: true });
  });

  it('lists every problem of a record, in field order', () => {
    expect(problemsOf({ account_id: '', mcc: '1', amount_minor: -1, latitude: 100 })).toEqual([
      ids('account_id', 64),
      'mcc must be 4 digits (got "1")',
      'amount_minor must be a positive integer (got -1)',
      'latitude must be within [-90, 90]',
      'latitude and longitude must be given together',
    ]);
  });

  it('refuses a field longer than the cap before anything else, naming its length and not scanning it', () => {
    const long = '4111111111111111 '.repeat(20).slice(0, DEFAULT_MAX_FIELD_CHARS + 1);
    expect(validateTransaction({ ...base, reference: long, card_token: '5500005555555559' }, limits)).toEqual({
      ok: false,
      code: 'OVERSIZED',
      // The oversized field first, then the fields scanned and found to hold a card number.
      redact: ['reference', 'card_token'],
      problems: [
        `reference is ${DEFAULT_MAX_FIELD_CHARS + 1} characters long, more than the ${DEFAULT_MAX_FIELD_CHARS} accepted for a field`,
      ],
    });
    // At the cap exactly, the field is scanned and judged as any other.
    const atCap = validateTransaction({ ...base, reference: 'r'.repeat(DEFAULT_MAX_FIELD_CHARS) }, limits);
    expect(atCap).toMatchObject({ ok: false, code: 'VALIDATION_FAILED', problems: [ids('reference', 64)] });
  });

  it('takes the cap from the limits when given', () => {
    // 13: the longest field of the sample record (type AUTHORIZATION) fits.
    const r = validateTransaction({ ...base, merchant_id: 'm-123456789012' }, { ...limits, maxFieldChars: 13 });
    expect(r).toEqual({
      ok: false,
      code: 'OVERSIZED',
      redact: ['merchant_id'],
      problems: ['merchant_id is 14 characters long, more than the 13 accepted for a field'],
    });
    expect(validateTransaction({ ...base, merchant_id: 'm-12345678901' }, { ...limits, maxFieldChars: 13 }).ok).toBe(true);
  });

  it('names every field with a card number: card_token strictly (any Luhn-valid digits), the others by brand and Luhn', () => {
    // Luhn-valid, no card brand's prefix: a PAN only where a card token belongs.
    const luhnOnly = '0000000000000000';
    expect(validateTransaction({ ...base, card_token: luhnOnly }, limits)).toEqual({
      ok: false,
      code: 'PAN_DETECTED',
      redact: ['card_token'],
      problems: ['card_token carries a raw card number (PAN); only card tokens are accepted'],
    });
    expect(validateTransaction({ ...base, reference: luhnOnly }, limits)).toEqual({ ok: true });
    expect(validateTransaction({ ...base, card_token: luhnOnly, reference: 'ref-4111111111111111' }, limits)).toEqual({
      ok: false,
      code: 'PAN_DETECTED',
      redact: ['card_token', 'reference'],
      problems: ['card_token, reference carry a raw card number (PAN); only card tokens are accepted'],
    });
  });

  it('refuses a card number typed into the amount without quoting it', () => {
    expect(validateTransaction({ ...base, amount_minor: 4111111111111111 }, limits)).toEqual({
      ok: false,
      code: 'PAN_DETECTED',
      redact: [],
      problems: ['amount_minor is a 16-digit number (not shown: it reads as a card number); only amounts are accepted'],
    });
  });

  it('reads the fields of records of any shape: plain objects of different fields, class instances, no prototype', () => {
    const pan = '4111111111111111';
    // Plain objects are read one by one: a field one of them has and another lacks is still scanned.
    expect(validateTransaction({ ...base }, limits).ok).toBe(true);
    const extra = { ...base, note: `card ${pan}` } as unknown as Transaction;
    expect(validateTransaction(extra, limits)).toMatchObject({ code: 'PAN_DETECTED', redact: ['note'] });
    // Decoded records share a class: its fields are learnt once and read for every instance.
    class Decoded {
      constructor(fields: Transaction) {
        Object.assign(this, fields);
      }
      describe(): string {
        return 'a method on the prototype, not a field';
      }
    }
    const asDecoded = (t: Transaction) => new Decoded(t) as unknown as Transaction;
    expect(validateTransaction(asDecoded(base), limits)).toEqual({ ok: true });
    expect(validateTransaction(asDecoded({ ...base, merchant_id: pan }), limits)).toMatchObject({ redact: ['merchant_id'] });
    expect(validateTransaction(asDecoded({ ...base, device_id: pan }), limits)).toMatchObject({ redact: ['device_id'] });
    const bare = Object.assign(Object.create(null) as object, { ...base, reference: pan }) as Transaction;
    expect(validateTransaction(bare, limits)).toMatchObject({ code: 'PAN_DETECTED', redact: ['reference'] });
  });
});
