import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { majorUnits, money } from './money.ts';
import { csvField, exceptionsCsv } from './csv.ts';

describe('majorUnits', () => {
  it('splits minor units exactly, by the currency’s digits', () => {
    expect(majorUnits(1999, 'EUR')).toBe('19.99');
    expect(majorUnits('-5', 'EUR')).toBe('-0.05');
    expect(majorUnits(0, 'GBP')).toBe('0.00');
    expect(majorUnits(1234, 'JPY')).toBe('1234');
    expect(majorUnits('1000', 'BHD')).toBe('1.000');
    expect(majorUnits('123456789012345678901234', 'USD')).toBe('1234567890123456789012.34');
    expect(money(250, 'USD')).toBe('2.50 USD');
  });

  it('round-trips any integer of minor units beyond 2^53 (no float on the way)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }), (n) => {
        const shown = majorUnits(n.toString(), 'EUR');
        const back = BigInt(shown.replace('.', ''));
        expect(back).toBe(n);
      }),
    );
  });

  it('leaves text that is not an integer as it is', () => {
    expect(majorUnits('1.5', 'EUR')).toBe('1.5');
  });
});

describe('the exceptions CSV', () => {
  it('quotes what needs quoting and neutralises spreadsheet formulas', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"\nbye')).toBe('"say ""hi""\nbye"');
    expect(csvField('=HYPERLINK("x")')).toBe(`"'=HYPERLINK(""x"")"`);
    expect(csvField('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvField('-12.05')).toBe('-12.05');
    expect(csvField(null)).toBe('');
  });

  it('writes one line per exception with exact amounts in the major unit', () => {
    const csv = exceptionsCsv([
      {
        reference: 'ref-1',
        status: 'AMOUNT_MISMATCH',
        reason: 'settled 12.00, expected 12.05',
        currency: 'EUR',
        expected_minor: '1205',
        settled_minor: '1200',
        transactions: 1,
        settlement_lines: 1,
        revision: 3,
        business_date: '2026-01-02',
        deadline: '2026-01-05T00:00:00.000Z',
        resolution: null,
        resolved_by: null,
      },
    ]);
    const lines = csv.split('\r\n');
    expect(lines[0]).toBe(
      'reference,status,reason,currency,expected,settled,transactions,settlement_lines,business_date,deadline,resolution,resolved_by,revision',
    );
    expect(lines[1]).toBe(
      'ref-1,AMOUNT_MISMATCH,"settled 12.00, expected 12.05",EUR,12.05,12.00,1,1,2026-01-02,2026-01-05T00:00:00.000Z,,,3',
    );
    expect(lines).toHaveLength(3);
  });
});
