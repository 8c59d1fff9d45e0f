/**
 * Card-number (PAN) detection and redaction (pure). No raw card number may enter txmon: a record
 * that carries one is dead-lettered with the number redacted, and never written or logged.
 */

/** Luhn checksum over a string of digits. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

const SEPARATED_DIGITS = /^\d(?:[ -]?\d){12,18}$/;

/** Strict check for a field meant to hold a token: 13-19 digits (spaces or dashes allowed between) passing Luhn. */
export function looksLikePan(value: string): boolean {
  if (!SEPARATED_DIGITS.test(value)) return false;
  return luhnValid(value.replace(/[ -]/g, ''));
}

/** Whether the digits start with a major card brand's issuer range and have that brand's length. */
export function hasCardBrandPrefix(d: string): boolean {
  const n = d.length;
  const p2 = Number(d.slice(0, 2));
  const p3 = Number(d.slice(0, 3));
  const p4 = Number(d.slice(0, 4));
  if (d[0] === '4') return n === 13 || n === 16 || n === 19; // Visa
  if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) return n === 16; // Mastercard
  if (p2 === 34 || p2 === 37) return n === 15; // Amex
  if (p4 === 6011 || p2 === 65 || (p3 >= 644 && p3 <= 649)) return n >= 16 && n <= 19; // Discover
  if (p4 >= 3528 && p4 <= 3589) return n >= 16 && n <= 19; // JCB
  if (p2 === 62) return n >= 16 && n <= 19; // UnionPay
  if (p2 === 36 || p2 === 38 || p2 === 39 || (p3 >= 300 && p3 <= 305)) return n >= 14 && n <= 19; // Diners
  return false;
}

// A standalone number: not glued to letters or digits, so runs inside hex ids (UUIDs, hashes) do not count.
const DIGIT_RUN = /(?<![0-9A-Za-z])\d(?:[ -]?\d){12,18}(?![0-9A-Za-z])/g;

/**
 * Whether free text (an id, a reference) contains a card number: a 13-19 digit run with a card
 * brand's prefix and length that passes Luhn. The brand test keeps numeric ids (snowflakes and the
 * like) from being mistaken for cards.
 */
export function containsPan(value: string): boolean {
  for (const m of value.matchAll(DIGIT_RUN)) {
    const d = m[0].replace(/[ -]/g, '');
    if (hasCardBrandPrefix(d) && luhnValid(d)) return true;
  }
  return false;
}

/**
 * Replaces every Luhn-valid 13-19 digit run (spaces or dashes allowed between digits) in raw bytes
 * with '*', so undecodable or invalid records can be dead-lettered without the card number in them.
 * Strict on purpose: over-redacting a dead letter costs little.
 */
export function redactPanBytes(bytes: Buffer): { bytes: Buffer; redacted: boolean } {
  let out: Buffer | null = null;
  let i = 0;
  while (i < bytes.length) {
    if (!isDigit(bytes[i])) {
      i++;
      continue;
    }
    // the longest run of digits with single separators from i
    const positions: number[] = [];
    let j = i;
    while (j < bytes.length) {
      if (isDigit(bytes[j])) {
        positions.push(j);
        j++;
      } else if ((bytes[j] === 0x20 || bytes[j] === 0x2d) && isDigit(bytes[j + 1]) && positions.length > 0) {
        j++;
      } else {
        break;
      }
    }
    // any window of 13-19 consecutive digits of the run that passes Luhn is redacted
    for (let start = 0; start + 13 <= positions.length; start++) {
      for (let len = Math.min(19, positions.length - start); len >= 13; len--) {
        const digits = positions
          .slice(start, start + len)
          .map((p) => String.fromCharCode(bytes[p] as number))
          .join('');
        if (luhnValid(digits)) {
          out ??= Buffer.from(bytes);
          for (const p of positions.slice(start, start + len)) out[p] = 0x2a;
          break;
        }
      }
    }
    i = j;
  }
  return out ? { bytes: out, redacted: true } : { bytes, redacted: false };
}

function isDigit(b: number | undefined): boolean {
  return b !== undefined && b >= 0x30 && b <= 0x39;
}
