import { describe, expect, it } from 'vitest';
import { containsPan } from '../domain/pan.ts';
import { InputError } from '../platform/errors.ts';
import {
  decimalToMinor,
  fileBatchId,
  integerToMinor,
  parseIsoTimestamp,
  parseSettlementCsv,
  readSettlementCsv,
  redactPans,
  SettlementCsvReader,
  type SettlementCsvItem,
  type SettlementCsvOptions,
} from './settlement-csv.ts';

const DAY = 86_400_000;
const OPTS: SettlementCsvOptions = {
  defaultBatchId: 'file-0123456789ab',
  importTime: Date.parse('2026-02-01T12:00:00Z'),
  maxFutureSkewMs: 300_000,
};
const HEADER = 'settlement_id,transaction_reference,amount,currency,settlement_date';
const JAN15 = Date.parse('2026-01-15T00:00:00Z');

const read = (lines: string[], eol = '\n'): SettlementCsvItem[] => parseSettlementCsv(lines.join(eol), OPTS);
const settlements = (items: SettlementCsvItem[]) => items.flatMap((i) => (i.kind === 'settlement' ? [i.settlement] : []));
const bad = (items: SettlementCsvItem[]) =>
  items.flatMap((i) => (i.kind === 'bad' ? [{ line: i.line, errorClass: i.errorClass, message: i.message }] : []));

describe('amounts: exact conversion to minor units', () => {
  it('uses the currency exponent (USD 2, JPY 0, KWD 3), never floating point', () => {
    const items = read([
      HEADER,
      's1,t1,12.34,USD,2026-01-15',
      's2,t2,0.1,USD,2026-01-15',
      's3,t3,1500,JPY,2026-01-15',
      's4,t4,1.234,KWD,2026-01-15',
      's5,t5,0.005,KWD,2026-01-15',
      's6,t6,9007199254.74,USD,2026-01-15',
      's7,t7,1.15,usd,2026-01-15',
    ]);
    expect(bad(items)).toEqual([]);
    expect(settlements(items).map((s) => [s.amount_minor, s.currency])).toEqual([
      [1234, 'USD'],
      [10, 'USD'],
      [1500, 'JPY'],
      [1234, 'KWD'],
      [5, 'KWD'],
      [900719925474, 'USD'],
      [115, 'USD'], // 1.15 * 100 is 114.99999999999999 in floating point
    ]);
  });

  it('accepts zeros past the currency’s decimal places (exact), e.g. JPY written with two decimals', () => {
    const items = read([HEADER, 's1,t1,1500.00,JPY,2026-01-15', 's2,t2,12.340,USD,2026-01-15', 's3,t3,1.2340,KWD,2026-01-15']);
    expect(bad(items)).toEqual([]);
    expect(settlements(items).map((s) => s.amount_minor)).toEqual([1500, 1234, 1234]);
  });

  it('rejects more decimals than the currency has, naming both', () => {
    const items = read([HEADER, 's1,t1,12.345,USD,2026-01-15', 's2,t2,1500.5,JPY,2026-01-15', 's3,t3,1.2345,KWD,2026-01-15']);
    expect(bad(items)).toEqual([
      { line: 2, errorClass: 'VALIDATION_FAILED', message: 'amount "12.345" has 3 decimal places, USD has 2' },
      { line: 3, errorClass: 'VALIDATION_FAILED', message: 'amount "1500.5" has 1 decimal places, JPY has 0' },
      { line: 4, errorClass: 'VALIDATION_FAILED', message: 'amount "1.2345" has 4 decimal places, KWD has 3' },
    ]);
  });

  it('keeps negative amounts (refunds, adjustments) and rejects negative fees', () => {
    const items = read([
      'settlement_id,transaction_reference,amount,currency,settlement_date,fee',
      's1,t1,-12.34,USD,2026-01-15,0.25',
      's2,t2,-0.5,EUR,2026-01-15,',
      's3,t3,10.00,USD,2026-01-15,-0.10',
    ]);
    expect(settlements(items).map((s) => [s.amount_minor, s.fee_minor])).toEqual([
      [-1234, 25],
      [-50, 0],
    ]);
    expect(bad(items)).toEqual([
      { line: 4, errorClass: 'VALIDATION_FAILED', message: 'fee_minor must be a non-negative integer (got -10)' },
    ]);
  });

  it('takes amount_minor and fee_minor as integers, and nothing else', () => {
    const items = read([
      'settlement_id,transaction_reference,amount_minor,currency,settlement_date,fee_minor',
      's1,t1,1234,USD,2026-01-15,12',
      's2,t2,12.34,USD,2026-01-15,0',
      's3,t3,1e3,USD,2026-01-15,0',
      's4,t4,99999999999999999999,USD,2026-01-15,0',
    ]);
    expect(settlements(items).map((s) => [s.amount_minor, s.fee_minor])).toEqual([[1234, 12]]);
    expect(bad(items)).toEqual([
      { line: 3, errorClass: 'PARSE_FAILED', message: 'amount_minor "12.34" is not an integer such as 1234' },
      { line: 4, errorClass: 'PARSE_FAILED', message: 'amount_minor "1e3" is not an integer such as 1234' },
      { line: 5, errorClass: 'VALIDATION_FAILED', message: 'amount_minor "99999999999999999999" is out of range' },
    ]);
  });

  it('decimalToMinor: text that is not a plain decimal is a syntax error', () => {
    for (const text of ['', '12,34', '1e2', '12.', '.5', '1 000', '--1', 'NaN', '0x10'])
      expect(decimalToMinor(text, 2), text).toEqual({ ok: false, syntax: true });
    expect(decimalToMinor('+7', 3)).toEqual({ ok: true, minor: 7000n });
    expect(decimalToMinor('-0.01', 2)).toEqual({ ok: true, minor: -1n });
    expect(decimalToMinor('123456789012345678.99', 2)).toEqual({ ok: true, minor: 12345678901234567899n });
  });
});

describe('fields', () => {
  it('defaults batch_id, fee and event_time; takes them when given', () => {
    const items = read([
      'settlement_id,transaction_reference,amount_minor,currency,settlement_date,batch_id,fee_minor,event_time',
      's1,t1,100,USD,2026-01-15,,,',
      's2,t2,100,USD,2026-01-15,B-7,3,2026-01-15T10:30:00Z',
      's3,t3,100,USD,2026-01-15,B-7,3,2026-01-15T10:30:00.123+01:00',
    ]);
    const [s1, s2, s3] = settlements(items);
    expect(s1).toEqual({
      settlement_id: 's1',
      transaction_reference: 't1',
      amount_minor: 100,
      currency: 'USD',
      settlement_date: JAN15 / DAY,
      batch_id: 'file-0123456789ab',
      fee_minor: 0,
      event_time: JAN15,
    });
    expect([s2?.batch_id, s2?.fee_minor, s2?.event_time]).toEqual(['B-7', 3, Date.parse('2026-01-15T10:30:00Z')]);
    expect(s3?.event_time).toBe(Date.parse('2026-01-15T09:30:00.123Z'));
  });

  it('rejects dates that are not YYYY-MM-DD calendar dates and times without a zone', () => {
    const items = read([
      'settlement_id,transaction_reference,amount,currency,settlement_date,event_time',
      's1,t1,1,USD,2026-02-30,',
      's2,t2,1,USD,15/01/2026,',
      's3,t3,1,USD,2026-01-15,2026-01-15T10:00:00',
      's4,t4,1,USD,,',
    ]);
    expect(bad(items)).toEqual([
      { line: 2, errorClass: 'PARSE_FAILED', message: 'settlement_date "2026-02-30" is not a date as YYYY-MM-DD' },
      { line: 3, errorClass: 'PARSE_FAILED', message: 'settlement_date "15/01/2026" is not a date as YYYY-MM-DD' },
      {
        line: 4,
        errorClass: 'PARSE_FAILED',
        message: 'event_time "2026-01-15T10:00:00" is not an ISO 8601 time with a zone, such as 2026-01-15T10:30:00Z',
      },
      { line: 5, errorClass: 'PARSE_FAILED', message: 'settlement_date is empty' },
    ]);
  });

  it('validates with the import time as the record timestamp (future skew) and validateSettlement', () => {
    const items = read([
      'settlement_id,transaction_reference,amount,currency,settlement_date,event_time',
      's1,t1,1,USD,2026-02-01,2026-02-01T12:04:00Z', // within the 5 min skew
      's2,t2,1,USD,2026-02-01,2026-02-01T12:06:00Z',
      's3,t3,1,XXX,2026-01-15,',
      's4,t 4,1,USD,2026-01-15,',
    ]);
    expect(settlements(items).map((s) => s.settlement_id)).toEqual(['s1']);
    expect(bad(items).map((b) => [b.line, b.errorClass, b.message])).toEqual([
      [3, 'VALIDATION_FAILED', expect.stringContaining('is more than 300000 ms after the record')],
      [4, 'VALIDATION_FAILED', 'currency "XXX" is not an active ISO 4217 code'],
      [5, 'VALIDATION_FAILED', 'transaction_reference must be 1-64 printable ASCII characters without spaces'],
    ]);
  });

  it('parseIsoTimestamp: zones, fractions, and no out-of-range parts', () => {
    expect(parseIsoTimestamp('2026-01-15T10:30:00Z')).toBe(Date.parse('2026-01-15T10:30:00Z'));
    expect(parseIsoTimestamp('2026-01-15 10:30Z')).toBe(Date.parse('2026-01-15T10:30:00Z'));
    expect(parseIsoTimestamp('2026-01-15T10:30:00-0530')).toBe(Date.parse('2026-01-15T16:00:00Z'));
    expect(parseIsoTimestamp('2026-01-15T10:30:00+02')).toBe(Date.parse('2026-01-15T08:30:00Z'));
    expect(parseIsoTimestamp('2026-01-15T10:30:00.987654Z')).toBe(Date.parse('2026-01-15T10:30:00.987Z'));
    for (const t of [
      '2026-01-15T24:00:00Z',
      '2026-01-15T10:60:00Z',
      '2026-02-29T00:00:00Z',
      '2026-01-15T10:30:00+25:00',
      '1736936000',
    ])
      expect(parseIsoTimestamp(t), t).toBeNull();
  });
});

describe('header', () => {
  it('fails before any line when a required column is missing, naming it', () => {
    expect(() => read(['settlement_id,transaction_reference,amount,settlement_date', 's1,t1,1,2026-01-15'])).toThrow(
      /missing column currency/,
    );
    expect(() => read(['settlement_id,transaction_reference,currency,settlement_date'])).toThrow(
      /missing column amount_minor \(or amount\)/,
    );
    expect(() => read(['id,ref'])).toThrow(
      /missing columns settlement_id, transaction_reference, amount_minor \(or amount\), currency, settlement_date \(found: id, ref\)/,
    );
    expect(() => read([`${HEADER},amount_minor`])).toThrow(/give amount_minor or amount, not both/);
    expect(() => read([`${HEADER},currency`])).toThrow(/column currency given twice/);
    expect(() => read([''])).toThrow(InputError);
  });

  it('is case-insensitive, allows spaces for underscores, and reports extra columns once', () => {
    const items = read([
      'Settlement ID,TRANSACTION_REFERENCE,Amount,Currency,Settlement-Date,Merchant Name,',
      's1,t1,1.00,USD,2026-01-15,ACME,',
      's2,t2,2.00,USD,2026-01-15,ACME,',
    ]);
    expect(items[0]).toEqual({ kind: 'header', line: 1, delimiter: ',', ignored: ['merchant_name'] });
    expect(settlements(items)).toHaveLength(2);
  });

  it('finds a semicolon or tab delimiter in the header', () => {
    for (const d of [';', '\t']) {
      const items = read([HEADER.replaceAll(',', d), ['s1', 't1', '1.50', 'EUR', '2026-01-15'].join(d)]);
      expect(settlements(items).map((s) => s.amount_minor)).toEqual([150]);
    }
  });
});

describe('CSV as banks send it', () => {
  it('reads CRLF line endings and a byte order mark', () => {
    const text = `\ufeff${HEADER}\r\ns1,t1,1.00,USD,2026-01-15\r\n\r\ns2,t2,2.00,USD,2026-01-15\r\n`;
    const items = parseSettlementCsv(text, OPTS);
    expect(items.map((i) => [i.kind, i.line])).toEqual([
      ['header', 1],
      ['settlement', 2],
      ['settlement', 4],
    ]);
    expect(settlements(items).map((s) => s.settlement_id)).toEqual(['s1', 's2']);
  });

  it('reads old Mac line endings (CR only), to the last line', () => {
    const items = parseSettlementCsv(`${HEADER}\rs1,t1,1.00,USD,2026-01-15\rs2,t2,1.001,USD,2026-01-15\r`, OPTS);
    expect(items.map((i) => [i.kind, i.line])).toEqual([
      ['header', 1],
      ['settlement', 2],
      ['bad', 3],
    ]);
    expect(items[2]).toMatchObject({ raw: 's2,t2,1.001,USD,2026-01-15' });
  });

  it('reads quoted fields: delimiters, doubled quotes and line breaks inside, padding around', () => {
    const items = read(
      [
        `${HEADER},memo`,
        '"s1","t1","1.00","USD","2026-01-15","a, b"',
        's2,t2, 2.00 , "USD" ,2026-01-15,"say ""hi"""',
        's3,t3,3.00,USD,2026-01-15,"two',
        'lines"',
        's4,t4,4.00,USD,2026-01-15,x',
      ],
      '\r\n',
    );
    expect(bad(items)).toEqual([]);
    expect(items.flatMap((i) => (i.kind === 'settlement' ? [[i.line, i.settlement.amount_minor]] : []))).toEqual([
      [2, 100],
      [3, 200],
      [4, 300],
      [6, 400],
    ]);
  });

  it('a quote left open costs its own line only, with its raw text', () => {
    const items = read([
      `${HEADER},memo`,
      's1,t1,1.00,USD,2026-01-15,"oops',
      's2,t2,2.00,USD,2026-01-15,"fine"',
      's3,t3,3.00,USD,2026-01-15,x',
    ]);
    expect(bad(items)).toEqual([{ line: 2, errorClass: 'PARSE_FAILED', message: 'a quoted field is never closed' }]);
    expect(items.find((i) => i.kind === 'bad')).toMatchObject({ raw: 's1,t1,1.00,USD,2026-01-15,"oops', redacted: false });
    expect(settlements(items).map((s) => s.settlement_id)).toEqual(['s2', 's3']);
  });

  it('reports malformed lines with their numbers and keeps going', () => {
    const items = read([
      HEADER,
      's1,t1,1.00,USD,2026-01-15',
      's2,t2,1.00,USD',
      's3,t3,1.00,USD,2026-01-15,surplus',
      's4,t4,1.00,USD,2026-01-15,,',
      's5,t"5,1.00,USD,2026-01-15',
      ',,,,',
      's6,t6,1.00,USD,2026-01-15',
    ]);
    expect(bad(items)).toEqual([
      { line: 3, errorClass: 'PARSE_FAILED', message: 'the line has 4 fields, the header has 5' },
      { line: 4, errorClass: 'PARSE_FAILED', message: 'the line has 6 fields, the header has 5' },
      { line: 6, errorClass: 'PARSE_FAILED', message: 'field 2 has a quote inside an unquoted value' },
    ]);
    expect(settlements(items).map((s) => s.settlement_id)).toEqual(['s1', 's4', 's6']);
  });

  it('cuts a line longer than 64 Ki characters: a bad line with a bounded raw text, and the next line is read', () => {
    const reader = new SettlementCsvReader(OPTS);
    const items = reader.push(`${HEADER}\n`);
    for (let i = 0; i < 100; i++) items.push(...reader.push('x'.repeat(50_000))); // 5 MB without a line end
    items.push(...reader.push('\ns1,t1,1.00,USD,2026-01-15\n'), ...reader.end());
    expect(items.map((i) => [i.kind, i.line])).toEqual([
      ['header', 1],
      ['bad', 2],
      ['settlement', 3],
    ]);
    expect(items[1]).toMatchObject({ errorClass: 'PARSE_FAILED', message: 'the line is longer than 65536 characters' });
    expect(items[1]?.kind === 'bad' && items[1].raw.length).toBe(65_536);
  });

  it('gives the same items whatever the chunking (CRLF and multi-byte characters split across chunks)', async () => {
    const text = `\ufeff${HEADER},memo\r\ns1,t1,1.00,USD,2026-01-15,"café\r\nnoir"\r\ns2,t2,2.00,USD,2026-01-15,€\r\n`;
    const bytes = Buffer.from(text, 'utf8');
    const whole = parseSettlementCsv(text, OPTS);
    for (const size of [1, 2, 3, 7]) {
      const chunks = async function* () {
        for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
      };
      const items: SettlementCsvItem[] = [];
      for await (const item of readSettlementCsv(chunks(), OPTS)) items.push(item);
      expect(items, `chunks of ${size} bytes`).toEqual(whole);
    }
    expect(whole.map((i) => [i.kind, i.line])).toEqual([
      ['header', 1],
      ['settlement', 2],
      ['settlement', 4],
    ]);
  });
});

describe('repeated settlement ids', () => {
  it('skips an identical repeat and rejects a conflicting one, naming the first line', () => {
    const items = read([
      `${HEADER},memo`,
      's1,t1,12.30,USD,2026-01-15,a',
      's2,t2,1.00,USD,2026-01-15,a',
      's1,t1,12.3,usd,2026-01-15,other memo', // the same settlement
      's1,t1,12.31,USD,2026-01-15,a',
      's1,t9,12.30,USD,2026-01-15,a',
    ]);
    expect(items.filter((i) => i.kind === 'repeat')).toEqual([{ kind: 'repeat', line: 4, firstLine: 2 }]);
    expect(bad(items)).toEqual([
      { line: 5, errorClass: 'VALIDATION_FAILED', message: 'settlement_id "s1" is already on line 2 with different content' },
      { line: 6, errorClass: 'VALIDATION_FAILED', message: 'settlement_id "s1" is already on line 2 with different content' },
    ]);
    expect(settlements(items).map((s) => s.settlement_id)).toEqual(['s1', 's2']);
  });

  it('a bad line does not claim its settlement_id', () => {
    const items = read([HEADER, 's1,t1,1.001,USD,2026-01-15', 's1,t1,1.00,USD,2026-01-15']);
    expect(items.map((i) => i.kind)).toEqual(['header', 'bad', 'settlement']);
  });
});

describe('card numbers', () => {
  it('dead-letters a line carrying a PAN, in any column, with its digits replaced by #', () => {
    const items = read([
      `${HEADER},memo`,
      's1,4111111111111111,1.00,USD,2026-01-15,x',
      's2,t2,1.00,USD,2026-01-15,card 5555 5555 5555 4444 ok',
      's3,t3,4111111111111111,USD,2026-01-15,x',
      's4,"4111-1111-1111-1111,1.00,USD,2026-01-15,x', // and unparseable
      's5,t5,1.00,USD,2026-01-15,order 4111111111111112', // fails Luhn: not a card
    ]);
    const pans = items.filter((i) => i.kind === 'bad');
    expect(pans.map((i) => [i.line, i.errorClass, i.redacted])).toEqual([
      [2, 'PAN_DETECTED', true],
      [3, 'PAN_DETECTED', true],
      [4, 'PAN_DETECTED', true],
      [5, 'PAN_DETECTED', true],
    ]);
    expect(pans.map((i) => (i.kind === 'bad' ? i.raw : ''))).toEqual([
      's1,################,1.00,USD,2026-01-15,x',
      's2,t2,1.00,USD,2026-01-15,card #### #### #### #### ok',
      's3,t3,################,USD,2026-01-15,x',
      's4,"####-####-####-####,1.00,USD,2026-01-15,x',
    ]);
    expect(pans[0]).toMatchObject({
      message: 'the line carries a card number (PAN) in transaction_reference (redacted in the dead letter)',
    });
    expect(pans[1]).toMatchObject({ message: expect.stringContaining('in memo') });
    for (const i of pans) expect(JSON.stringify(i)).not.toMatch(/4111|5555 5555/);
    expect(settlements(items).map((s) => s.settlement_id)).toEqual(['s5']);
  });

  it('finds card numbers glued to letters or split by dots, slashes and underscores (review finding 1)', () => {
    const items = read([
      `${HEADER},memo`,
      's1,REF4111111111111111,1.00,USD,2026-01-15,x',
      's2,t2,1.00,USD,2026-01-15,dev.4111.1111.1111.1111',
      's3,t3,1.00,USD,2026-01-15,4111_1111_1111_1111/2027',
      's4,t4,1.00,USD,2026-01-15,9f86d081-8841-4c7d-a659-2feaa0c55ad0', // a UUID: not a card
    ]);
    expect(bad(items).map((b) => [b.line, b.errorClass])).toEqual([
      [2, 'PAN_DETECTED'],
      [3, 'PAN_DETECTED'],
      [4, 'PAN_DETECTED'],
    ]);
    expect(items.flatMap((i) => (i.kind === 'bad' ? [i.raw] : []))).toEqual([
      's1,REF################,1.00,USD,2026-01-15,x',
      's2,t2,1.00,USD,2026-01-15,dev.####.####.####.####',
      's3,t3,1.00,USD,2026-01-15,####_####_####_####/2027',
    ]);
    expect(settlements(items).map((s) => s.settlement_id)).toEqual(['s4']);
  });

  it('never quotes a card number in a message, even one that only appears once a value is parsed', () => {
    const items = read([
      'settlement_id,transaction_reference,amount_minor,currency,settlement_date',
      's1,t1,004111111111111111,USD,2026-01-15', // 18 digits, no card brand: not a PAN as written
    ]);
    expect(bad(items)).toEqual([
      {
        line: 2,
        errorClass: 'PAN_DETECTED',
        message: 'amount_minor is a 16-digit number (not shown: it reads as a card number); only amounts are accepted',
      },
    ]);
  });

  it('redactPans leaves ids, dates and non-card numbers alone', () => {
    const text = 's-1,9f86d081884c7d659a2feaa0c55ad015,2026-01-15,4111111111111112,1234567890123';
    expect(redactPans(text)).toBe(text);
    expect(containsPan(redactPans('a 4111111111111111 b 378282246310005'))).toBe(false);
  });
});

describe('fileBatchId', () => {
  it('is the first 12 hex digits of the content hash', () => {
    expect(fileBatchId('9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08')).toBe('file-9f86d081884c');
  });
});

// What the mutation run showed unpinned (`npm run mutation`): the conversions' edges, the reader's
// chunking and caps, quoting around blanks and the header's delimiter on a tie.
describe('edges the mutation run found unpinned', () => {
  it('decimalToMinor: trailing zeros past the places, too many places counted without trailing zeros, signs', () => {
    expect(decimalToMinor('12.340', 2)).toEqual({ ok: true, minor: 1234n });
    expect(decimalToMinor('12.3', 2)).toEqual({ ok: true, minor: 1230n });
    expect(decimalToMinor('+5', 2)).toEqual({ ok: true, minor: 500n });
    expect(decimalToMinor('-5.5', 2)).toEqual({ ok: true, minor: -550n });
    expect(decimalToMinor('1.10200', 2)).toEqual({ ok: false, syntax: false, places: 3 });
    expect(decimalToMinor('1.23450', 2)).toEqual({ ok: false, syntax: false, places: 4 });
    expect(decimalToMinor('1.', 2)).toEqual({ ok: false, syntax: true });
  });

  it('integerToMinor: digits with an optional sign, nothing else', () => {
    expect(integerToMinor('+7')).toEqual({ ok: true, minor: 7n });
    expect(integerToMinor('-12')).toEqual({ ok: true, minor: -12n });
    for (const text of ['x5', '5x', '1.0', '', '--1']) expect(integerToMinor(text)).toEqual({ ok: false, syntax: true });
  });

  it('parseIsoTimestamp: every field at its limit, seconds, fractions and offsets', () => {
    expect(parseIsoTimestamp('2026-01-15T23:59:59Z')).toBe(JAN15 + DAY - 1000);
    expect(parseIsoTimestamp('2026-01-15T10:30:45.5Z')).toBe(JAN15 + (10 * 3600 + 30 * 60 + 45) * 1000 + 500);
    expect(parseIsoTimestamp('2026-01-15T00:00:00+23:59')).toBe(JAN15 - (23 * 60 + 59) * 60_000);
    expect(parseIsoTimestamp('2026-01-15T00:00:00-01:30')).toBe(JAN15 + 90 * 60_000);
    for (const text of [
      '2026-01-15T24:00:00Z',
      '2026-01-15T10:60:00Z',
      '2026-01-15T10:30:60Z',
      '2026-01-15T10:30:00+24:00',
      '2026-01-15T10:30:00+01:60',
    ])
      expect(parseIsoTimestamp(text)).toBeNull();
  });

  it('quotes a long bad value cut short in the message', () => {
    const long = '1'.repeat(20) + 'x'.repeat(20);
    expect(bad(read([HEADER, `s1,t1,${long},USD,2026-01-15`]))).toEqual([
      { line: 2, errorClass: 'PARSE_FAILED', message: `amount "${long.slice(0, 24)}..." is not a decimal such as 12.34` },
    ]);
    expect(bad(read([HEADER, 's1,t1,1x,USD,2026-01-15']))[0]?.message).toBe('amount "1x" is not a decimal such as 12.34');
  });

  it('normalises header names padded with blanks and with runs of spaces or dashes', () => {
    const items = read([
      ' settlement - id ,Transaction  Reference, amount ,currency,settlement_date',
      's1,t1,1.00,USD,2026-01-15',
    ]);
    expect(settlements(items).map((s) => s.settlement_id)).toEqual(['s1']);
  });

  it('a quoted field may have blanks around it (tabs too, where tab is not the delimiter), and "" inside is one quote', () => {
    const items = read([HEADER, 's1, \t"r""x" \t,1.00,USD,2026-01-15']);
    expect(settlements(items).map((s) => s.transaction_reference)).toEqual(['r"x']);
    // With tabs as the delimiter, a tab is an empty field, never a blank before a quote.
    const tsv = read([
      ['settlement_id', 'transaction_reference', 'batch_id', 'amount', 'currency', 'settlement_date'].join('\t'),
      's1\tt1\t\t"12.34"\tUSD\t2026-01-15',
    ]);
    expect(settlements(tsv)).toMatchObject([{ batch_id: OPTS.defaultBatchId, amount_minor: 1234 }]);
  });

  it('text after a closing quote, and an empty first field, are told apart from good lines', () => {
    expect(bad(read([HEADER, 's1,"t1"x,1.00,USD,2026-01-15']))).toEqual([
      { line: 2, errorClass: 'PARSE_FAILED', message: 'field 2 has text after its closing quote' },
    ]);
    expect(bad(read([HEADER, ',t1,1.00,USD,2026-01-15']))).toEqual([
      { line: 2, errorClass: 'PARSE_FAILED', message: 'settlement_id is empty' },
    ]);
  });

  it('on a tie the header delimiter is the first of comma, semicolon, tab', () => {
    const items = read([`n;o;t;e;s;x,${HEADER}`, 'a note,s1,t1,1.00,USD,2026-01-15']);
    expect(items[0]).toMatchObject({ kind: 'header', delimiter: ',' });
    expect(settlements(items).map((s) => s.settlement_id)).toEqual(['s1']);
  });

  it('emits what each chunk completes, strips a byte order mark only at the very start', () => {
    const reader = new SettlementCsvReader(OPTS);
    expect(reader.push(`\ufeff"settlement_id",${HEADER.slice('settlement_id,'.length)}\n`)).toMatchObject([
      { kind: 'header', line: 1 },
    ]);
    expect(reader.push('s1,t1,1.00,USD,2026-01-15\ns2,t2,')).toMatchObject([{ kind: 'settlement', line: 2 }]);
    // A mark in the middle of the file is text: before a quote it makes the field malformed.
    expect(reader.push('2.00,USD,2026-01-15\n\ufeff"s3",t3,1.00,USD,2026-01-15\n')).toMatchObject([
      { kind: 'settlement', line: 3 },
      { kind: 'bad', line: 4, errorClass: 'PARSE_FAILED', message: 'field 1 has a quote inside an unquoted value' },
    ]);
    expect(reader.end()).toEqual([]);
  });

  it('refuses an empty file by name', () => {
    expect(() => parseSettlementCsv('', OPTS)).toThrow('the file has no header row (it is empty)');
    expect(() => parseSettlementCsv('\n\n', OPTS)).toThrow('the file has no header row (it is empty)');
  });

  it('a line of exactly the cap is read; one character more is refused, however it arrives', () => {
    const cap = 64 * 1024;
    const line = 's1,t1,1.00,USD,2026-01-15,';
    const padded = line + ' '.repeat(cap - line.length);
    expect(settlements(read([HEADER, padded]))).toHaveLength(1);
    const longer = `${padded} `;
    const message = `the line is longer than ${cap} characters`;
    expect(bad(read([HEADER, longer]))).toEqual([{ line: 2, errorClass: 'PARSE_FAILED', message }]);
    // In chunks without a line end, the reader keeps at most the cap and one character, and still refuses it.
    const reader = new SettlementCsvReader(OPTS);
    reader.push(`${HEADER}\n`);
    for (let i = 0; i < longer.length + 5000; i += 1000)
      expect(reader.push(longer.slice(i, i + 1000) + (i >= longer.length ? ' ' : ''))).toEqual([]);
    expect(reader.push('\n')).toMatchObject([{ kind: 'bad', line: 2, message }]);
  });

  it('names each field of a line that carries a card number, and a repeated id with other content', () => {
    const items = read([`${HEADER},batch_id`, 's1,t1,1.00,USD,2026-01-15,b-4111111111111111']);
    expect(bad(items)).toEqual([
      {
        line: 2,
        errorClass: 'PAN_DETECTED',
        message: 'the line carries a card number (PAN) in batch_id (redacted in the dead letter)',
      },
    ]);
    const twice = read([HEADER, 's1,t1,1.00,USD,2026-01-15', 's1,t1,1.01,USD,2026-01-15']);
    expect(bad(twice)).toEqual([
      { line: 3, errorClass: 'VALIDATION_FAILED', message: 'settlement_id "s1" is already on line 2 with different content' },
    ]);
  });
});
