import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { containsPan, looksLikePan, luhnValid, redactPanBytes } from './pan.ts';

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
});
