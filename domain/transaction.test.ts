import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { sampleTransaction } from './transaction.fixture.ts';
import { validateTransaction, type Transaction } from './transaction.ts';

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
