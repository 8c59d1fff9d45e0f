import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { arbAfter, arbBefore, arbFormat, arbPan } from './pan.fixture.ts';
import { containsPan, hasCardBrandPrefix, looksLikePan, luhnValid, redactPanBytes, redactPanText, scanWork } from './pan.ts';

describe('PAN detection', () => {
  it('knows test card numbers, with or without separators', () => {
    expect(luhnValid('4111111111111111')).toBe(true);
    expect(luhnValid('4111111111111112')).toBe(false);
    expect(luhnValid('5555555555554444')).toBe(true);
    for (const v of ['4111111111111111', '4111-1111-1111-1111', '4111 1111 1111 1111', '378282246310005', '5555555555554444']) {
      expect(looksLikePan(v), v).toBe(true);
    }
    expect(looksLikePan('411111111111')).toBe(false); // 12 digits
    expect(looksLikePan('4111111111111112')).toBe(false); // fails Luhn: a format-preserving token
    expect(looksLikePan('tok_4111111111111111')).toBe(false); // a token that merely contains digits
  });

  it('finds a card number inside free text but not a numeric id without a card prefix', () => {
    expect(containsPan('ref-4111111111111111-x')).toBe(true);
    expect(containsPan('order 5555 5555 5555 4444')).toBe(true);
    // An 18-digit snowflake id that happens to pass Luhn is not a card: no brand prefix/length.
    expect(luhnValid('123456789012345671')).toBe(true);
    expect(containsPan('123456789012345671')).toBe(false);
    // A digit run inside a hex id is not a standalone number (seen: a simulator idempotency key).
    expect(containsPan('idem-6e4238362820880dafc7fa93')).toBe(false);
    expect(containsPan('4238362820880')).toBe(true);
  });

  it('redacts card numbers in raw bytes and leaves everything else alone', () => {
    const raw = Buffer.concat([Buffer.from([0, 0, 0, 0, 7, 0x22]), Buffer.from('pan 4111-1111-1111-1111 and id tx-42')]);
    const { bytes, redacted } = redactPanBytes(raw);
    expect(redacted).toBe(true);
    expect(bytes.toString('latin1')).toContain('****-****-****-**** and id tx-42');
    expect(bytes.subarray(0, 6)).toEqual(raw.subarray(0, 6));
    expect(raw.toString('latin1')).toContain('4111-1111-1111-1111'); // the input is not modified
  });

  it('never leaves a Luhn-valid 13-19 digit run behind (property)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 200 }),
        fc.constantFrom('4111111111111111', '378282246310005', '6011000990139424'),
        (noise, pan) => {
          const input = Buffer.concat([Buffer.from(noise), Buffer.from(pan), Buffer.from(noise)]);
          const { bytes } = redactPanBytes(input);
          const text = bytes.toString('latin1');
          for (const m of text.matchAll(/\d{13,19}/g)) {
            for (let s = 0; s + 13 <= m[0].length; s++) {
              for (let l = 13; s + l <= m[0].length && l <= 19; l++) expect(luhnValid(m[0].slice(s, s + l))).toBe(false);
            }
          }
        },
      ),
    );
  });

  it('finds the card numbers the review found stored (letters and any common separator around)', () => {
    for (const v of [
      'REF4111111111111111',
      'dev.4111.1111.1111.1111',
      '4111_1111_1111_1111',
      '4111/1111/1111/1111',
      '4111\\1111\\1111\\1111',
      '4111:1111:1111:1111',
      '4111\t1111\t1111\t1111',
      'pan=4111 - 1111 - 1111 - 1111;',
      '4111.1111.1111.1111.2024',
      'tx-20240101-4111111111111111',
      'card5555555555554444exp',
      '4111\u20131111\u20131111\u20131111', // en dashes, as word processors write them
      '4111\u00a01111\u00a01111\u00a01111',
      '4111 1111 1111 1111 2abc', // hex letters after a later group do not hide the card
    ])
      expect(containsPan(v), v).toBe(true);
    // A 24-digit id is not cut into arbitrary windows; hex words and UUIDs are ids, not cards.
    for (const v of ['411111111111111111111111', 'idem-6e4238362820880dafc7fa93', '43776583-5487-4390-83d9-2078d4fbf465'])
      expect(containsPan(v), v).toBe(false);
  });

  it('finds every generated card number in every position and format (property)', () => {
    fc.assert(
      fc.property(arbPan, arbFormat, arbBefore, arbAfter, (pan, format, before, after) => {
        const text = before + format(pan) + after;
        expect(containsPan(text), text).toBe(true);
        const redacted = redactPanText(text);
        expect(containsPan(redacted), redacted).toBe(false);
        expect(redacted).not.toContain(pan.slice(-8));
        const bytes = redactPanBytes(Buffer.from(text, 'utf8'));
        expect(bytes.redacted).toBe(true);
        expect(containsPan(bytes.bytes.toString('utf8'))).toBe(false);
      }),
      { numRuns: 3000 },
    );
  });

  it('rarely mistakes ids, timestamps and numbers for cards (property, rate measured)', () => {
    let hits = 0;
    const runs = 20_000;
    fc.assert(
      fc.property(arbNonPan, (v) => {
        if (containsPan(v)) hits++;
      }),
      { numRuns: runs },
    );
    // Measured at 0 of 1,000,000 for each kind (hex ids, UUIDs, 20+ digit ids, ISO times, epoch ms).
    expect(hits / runs).toBeLessThan(0.0005);
  });

  it('scans in linear time: a bounded number of windows per input character', () => {
    for (const n of [1_000, 100_000]) {
      scanWork.windows = 0;
      containsPan('4'.repeat(n));
      expect(scanWork.windows).toBeLessThanOrEqual(7);
      scanWork.windows = 0;
      containsPan('4 '.repeat(n));
      expect(scanWork.windows).toBeLessThanOrEqual(7 * n);
      scanWork.windows = 0;
      const { bytes } = redactPanBytes(Buffer.from('4'.repeat(n)));
      expect(scanWork.windows).toBeLessThanOrEqual(7 * n);
      expect(bytes.includes('4'.repeat(13))).toBe(false);
    }
  });
});

const arbNonPan = fc.oneof(
  fc.uuid(),
  fc.stringMatching(/^[0-9a-f]{24,40}$/).map((h) => `idem-${h}`),
  fc.bigInt({ min: 10n ** 19n, max: 10n ** 30n }).map(String),
  fc.date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((d) => d.toISOString()),
  // Epoch ms after 2096 start with 4 (13 digits, like a Visa): not in this range.
  fc.date({ min: new Date('2000-01-01'), max: new Date('2090-01-01'), noInvalidDate: true }).map((d) => String(d.getTime())),
  fc.tuple(fc.integer({ min: 1, max: 999_999 }), fc.stringMatching(/^[0-9a-f]{8}$/)).map(([n, h]) => `tx-${n}-${h}`),
);

// What the mutation run showed unpinned (`npm run mutation`): each card brand's issuer range and
// lengths at their edges, and Luhn's refusal of anything but digits.
describe('card brands and Luhn at their edges', () => {
  const digits = (prefix: string, n: number) => (prefix + '0'.repeat(n)).slice(0, n);
  it.each([
    // [prefix, lengths that are the brand's, lengths that are not]
    ['4', [13, 16, 19], [12, 14, 15, 17, 18, 20]], // Visa
    ['51', [16], [15, 17]], // Mastercard 51-55
    ['55', [16], [15, 19]],
    ['2221', [16], [15, 17]], // Mastercard 2221-2720
    ['2720', [16], [19]],
    ['34', [15], [14, 16]], // Amex
    ['37', [15], [16]],
    ['6011', [16, 17, 18, 19], [15, 20]], // Discover
    ['65', [16, 19], [15]],
    ['644', [16, 19], [15]],
    ['649', [16], [15]],
    ['3528', [16, 19], [15, 20]], // JCB 3528-3589
    ['3589', [16], [15]],
    ['62', [16, 19], [15, 20]], // UnionPay
    ['36', [14, 19], [13, 20]], // Diners
    ['38', [14], [13]],
    ['39', [14], [13]],
    ['300', [14, 19], [13]],
    ['305', [14], [13]],
  ] as Array<[string, number[], number[]]>)('prefix %s: a brand at lengths %j, not at %j', (prefix, yes, no) => {
    for (const n of yes) expect(hasCardBrandPrefix(digits(prefix, n)), `${prefix} × ${n}`).toBe(true);
    for (const n of no) expect(hasCardBrandPrefix(digits(prefix, n)), `${prefix} × ${n}`).toBe(false);
  });

  it.each([
    '50',
    '56',
    '2220',
    '2721',
    '33',
    '35',
    '6010',
    '6012',
    '643',
    '3527',
    '3590',
    '61',
    '63',
    '306',
    '31',
    '1',
    '7',
    '8',
    '9',
    '0',
  ])('prefix %s is no brand at any length', (prefix) => {
    for (let n = 13; n <= 19; n++) expect(hasCardBrandPrefix(digits(prefix, n)), `${prefix} × ${n}`).toBe(false);
  });

  it('Luhn counts digits only: any other character fails it, even one whose code would make the sum right', () => {
    expect(luhnValid('4111111111111111')).toBe(true);
    expect(luhnValid('0')).toBe(true);
    // ':' is code 58 (10 past '0'), '&' is code 38 (10 before it): counted, either would make a
    // sum divisible by ten.
    expect(luhnValid(':')).toBe(false);
    expect(luhnValid('&')).toBe(false);
    expect(luhnValid('4111111111111111:')).toBe(false);
    expect(luhnValid('59')).toBe(true); // 5*2 = 10 -> 1, + 9 = 10
    expect(luhnValid('95')).toBe(false);
  });
});
