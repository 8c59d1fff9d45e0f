/**
 * Card-number (PAN) detection and redaction (pure). No raw card number may enter txmon: a record
 * that carries one is dead-lettered with the number redacted, and never written or logged.
 *
 * One scanner serves every use (strings, raw bytes, settlement lines). It walks the input once and
 * keeps the last 32 digits in fixed rings, so a scan is O(n) with a small constant, allocates
 * nothing until it finds something, and cannot be slowed down by crafted input (no regex, no
 * per-window strings; Luhn per window is O(1) from parity prefix sums).
 *
 * A *digit sequence* is digits joined by runs of 1-3 separators from PAN_SEPARATORS; anything else
 * (a letter, a comma, a longer gap) ends it. Letters do not shield a number: `REF4111111111111111`
 * holds a card. Two ways of looking for candidates in a sequence:
 * - text (containsPan, redactPanText): windows of 13-19 digits that start at the sequence start or
 *   right after a separator run and end at the sequence end or right before one, with a card brand's
 *   prefix and length, passing Luhn. So `4111.1111.1111.1111.2024` and `tx-20240101-4111111111111111`
 *   hold a card, while a plain 24-digit id is not cut into arbitrary windows.
 * - bytes (redactPanBytes, for dead letters): every window of 13-19 digits passing Luhn, brand or not.
 *   A superset of the text rule on the same characters, so whatever a field scan finds is also
 *   masked in the record's bytes (Avro length bytes glued to a string do not hide it); over-redacting
 *   a dead letter costs little.
 * Not covered (residual): digits other than ASCII 0-9 (full-width, Arabic-Indic), separators outside
 * the set (commas), a card glued to other digits without a separator or to hex letters only
 * (`FEE4111...`, see windowsEndingHere), a card inside a canonical UUID (see insideUuid).
 */

/**
 * Characters that may sit between the digit groups of a card number, at most three in a row: ASCII
 * space, tab and `-._/\:`, and what word processors put there instead (no-break and thin spaces,
 * hyphens and dashes U+2010-2015). Not `,` or `;`: they separate values, not digit groups.
 */
export const PAN_SEPARATORS = ' \t-._/\\:\u00a0\u2007\u2009\u202f\u2010\u2011\u2012\u2013\u2014\u2015';
const MAX_SEPARATOR_RUN = 3;
const MIN_PAN = 13;
const MAX_PAN = 19;

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
  if (value.length > 2 * MAX_PAN || !SEPARATED_DIGITS.test(value)) return false;
  return luhnValid(value.replace(/[ -]/g, ''));
}

/** Whether a number of `n` digits starting with d0 d1 d2 d3 is in a major card brand's issuer range and length. */
function brandFits(d0: number, d1: number, d2: number, d3: number, n: number): boolean {
  const p2 = d0 * 10 + d1;
  const p3 = p2 * 10 + d2;
  const p4 = p3 * 10 + d3;
  if (d0 === 4) return n === 13 || n === 16 || n === 19; // Visa
  if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) return n === 16; // Mastercard
  if (p2 === 34 || p2 === 37) return n === 15; // Amex
  if (p4 === 6011 || p2 === 65 || (p3 >= 644 && p3 <= 649)) return n >= 16 && n <= 19; // Discover
  if (p4 >= 3528 && p4 <= 3589) return n >= 16 && n <= 19; // JCB
  if (p2 === 62) return n >= 16 && n <= 19; // UnionPay
  if (p2 === 36 || p2 === 38 || p2 === 39 || (p3 >= 300 && p3 <= 305)) return n >= 14 && n <= 19; // Diners
  return false;
}

/** Whether the digits start with a major card brand's issuer range and have that brand's length. */
export function hasCardBrandPrefix(d: string): boolean {
  if (d.length < 4) return false;
  const at = (i: number) => d.charCodeAt(i) - 48;
  return brandFits(at(0), at(1), at(2), at(3), d.length);
}

// ---- the scanner: module state, reused by every scan (JS runs one scan at a time) ----

const RING = 32; // > MAX_PAN: a window's first digit is still in the rings when its last one arrives
const MASK = RING - 1;
/** Luhn's doubled digit. */
const DOUBLED = [0, 2, 4, 6, 8, 1, 3, 5, 7, 9];
/** ASCII separators, for text and bytes. */
const SEPARATOR = new Uint8Array(256);
for (let i = 0; i < PAN_SEPARATORS.length; i++)
  if (PAN_SEPARATORS.charCodeAt(i) < 128) SEPARATOR[PAN_SEPARATORS.charCodeAt(i)] = 1;
/**
 * In bytes, the UTF-8 bytes of the other separators count as separators too: a lead byte (C2, E2)
 * as one, continuation bytes (80-BF) as none, so whatever the text rule finds in a string is still
 * one sequence in its UTF-8 bytes. It bridges more of arbitrary binary: over-redaction only.
 */
const BYTE_SEPARATOR = new Uint8Array(SEPARATOR);
BYTE_SEPARATOR[0xc2] = BYTE_SEPARATOR[0xe2] = 1;
for (let b = 0x80; b <= 0xbf; b++) BYTE_SEPARATOR[b] = 1;

/** Whether a UTF-16 unit (text) or byte (bytes) separates digit groups. */
function isSeparator(c: number): boolean {
  if (anyWindow) return BYTE_SEPARATOR[c] === 1;
  if (c < 128) return SEPARATOR[c] === 1;
  return c === 0xa0 || c === 0x2007 || c === 0x2009 || c === 0x202f || (c >= 0x2010 && c <= 0x2015);
}

/** Per digit of the sequence (by index & MASK): its value, its position in the input, whether a window may start there. */
const digitAt = new Uint8Array(RING);
const positionAt = new Float64Array(RING);
const startsGroup = new Uint8Array(RING);
/**
 * Prefix sums before each digit, four per digit: plain digits at even / odd sequence indices, then
 * doubled digits at even / odd indices. A window's Luhn sum is two differences of these.
 */
const prefix = new Int32Array(RING * 4);
const total = new Int32Array(4);
let count = 0; // digits in the current sequence
let gap = 0; // separators since the sequence's last digit
let anyWindow = false; // the bytes rule
/** Letters just read (contiguous), and whether all of them are hex digits a-f / A-F. */
let letters = 0;
let lettersHex = true;
/** The current sequence follows hex letters directly (`...9e6d4111`). */
let leftHex = false;
/** The sequence ended on a letter: it is resolved when that letter run ends. */
let pendingRight = false;
/** A window of the current sequence qualified; `hits` held `sequenceMark` entries before the sequence. */
let candidate = false;
let sequenceMark = 0;
let found = false;
/** The text being scanned (text rule only), for the UUID check. */
let text = '';
/** Input ranges [first digit, last digit] of the windows found. */
const hits: number[] = [];

/** Windows tested since the counter was last reset: lets tests prove a scan's work is linear in its input. */
export const scanWork = { windows: 0 };

function reset(bytesRule: boolean, input = ''): void {
  text = input;
  count = 0;
  gap = 0;
  total.fill(0);
  pendingRight = false;
  candidate = false;
  letters = 0;
  lettersHex = true;
  anyWindow = bytesRule;
  found = false;
  hits.length = 0;
  sequenceMark = 0;
}

/** Ends the current sequence; in text, its windows that lie inside a UUID are dropped. */
function endSequence(): void {
  if (candidate) {
    if (anyWindow) found = true;
    else {
      let kept = sequenceMark;
      for (let h = sequenceMark; h < hits.length; h += 2) {
        const from = hits[h] as number;
        const to = hits[h + 1] as number;
        if (insideUuid(from, to)) continue;
        hits[kept++] = from;
        hits[kept++] = to;
      }
      hits.length = kept;
      if (kept > sequenceMark) found = true;
    }
  }
  candidate = false;
  sequenceMark = hits.length;
  count = 0;
  gap = 0;
  pendingRight = false;
  total[0] = total[1] = total[2] = total[3] = 0;
}

/** Offsets of a UUID's digit groups (8-4-4-4-12): where a window's first digit can sit in one. */
const UUID_GROUPS = [0, 9, 14, 19, 24];

/**
 * Whether text[from..to] lies inside a canonical UUID: its all-digit groups can form a brand-prefixed
 * Luhn-valid window (1 random UUID in 40,000 did, past the hex-word rule), and a UUID is an id, never a card.
 * At most 5 x 36 character reads per candidate window: the scan stays linear.
 */
function insideUuid(from: number, to: number): boolean {
  for (const k of UUID_GROUPS) {
    const q = from - k;
    if (q < 0 || to >= q + 36 || q + 36 > text.length) continue;
    let ok = true;
    for (let j = 0; j < 36 && ok; j++) {
      const c = text.charCodeAt(q + j);
      if (j === 8 || j === 13 || j === 18 || j === 23) ok = c === 0x2d;
      else {
        const l = c | 0x20;
        ok = (c >= 0x30 && c <= 0x39) || (l >= 0x61 && l <= 0x66);
      }
    }
    if (ok) return true;
  }
  return false;
}

/**
 * Tests the windows that end after the sequence's `count`-th digit. In text, a window glued to hex
 * letters (a-f, A-F only) on either side, `rightHex` or leftHex, is part of a hex word (a hash, a
 * hex id, a UUID's group), not a card: without this, 1 hex id in 8,000 and 1 UUID in 2,500 held a
 * "card". `REF4111...` is still one (R is no hex digit); `FEE4111...` is not (residual).
 */
function windowsEndingHere(rightHex: boolean): void {
  const e = count;
  const last = e - MIN_PAN;
  if (last < 0) return;
  const q = (e - 1) & 1; // the rightmost digit's parity: those digits count plain, the others doubled
  const plain = total[q] as number;
  const doubled = total[2 + (q ^ 1)] as number;
  for (let s = Math.max(0, e - MAX_PAN); s <= last; s++) {
    const i = s & MASK;
    if (!anyWindow && (startsGroup[i] === 0 || rightHex || (s === 0 && leftHex))) continue;
    scanWork.windows++;
    const sum = plain - (prefix[i * 4 + q] as number) + doubled - (prefix[i * 4 + 2 + (q ^ 1)] as number);
    if (sum % 10 !== 0) continue;
    if (
      !anyWindow &&
      !brandFits(
        digitAt[i] as number,
        digitAt[(s + 1) & MASK] as number,
        digitAt[(s + 2) & MASK] as number,
        digitAt[(s + 3) & MASK] as number,
        e - s,
      )
    )
      continue;
    candidate = true;
    const from = positionAt[i] as number;
    const to = positionAt[(e - 1) & MASK] as number;
    // Overlapping windows (a digit string of any length has many) merge into one range: memory stays small.
    const h = hits.length;
    if (h > sequenceMark && from <= (hits[h - 1] as number) + 1) {
      hits[h - 2] = Math.min(hits[h - 2] as number, from);
      hits[h - 1] = to;
    } else hits.push(from, to);
  }
}

/** Feeds one character (a UTF-16 unit or a byte) at `position`. */
function feed(c: number, position: number): void {
  const lower = c | 0x20;
  if (lower >= 0x61 && lower <= 0x7a) {
    if (letters === 0) lettersHex = true;
    letters++;
    if (lower > 0x66) lettersHex = false;
    if (count === 0 || pendingRight) return;
    // Letters right after a digit end the sequence; its last windows wait for the letter run to end.
    if (gap === 0 && !anyWindow) pendingRight = true;
    else endSequence();
    return;
  }
  if (pendingRight) {
    windowsEndingHere(lettersHex);
    endSequence();
  }
  const hexBefore = letters > 0 && lettersHex;
  letters = 0;
  const d = c - 48;
  if (d >= 0 && d <= 9) {
    if (count === 0) leftHex = hexBefore;
    const i = count & MASK;
    digitAt[i] = d;
    positionAt[i] = position;
    startsGroup[i] = count === 0 || gap > 0 ? 1 : 0;
    const p = i * 4;
    prefix[p] = total[0] as number;
    prefix[p + 1] = total[1] as number;
    prefix[p + 2] = total[2] as number;
    prefix[p + 3] = total[3] as number;
    const parity = count & 1;
    (total[parity] as number) += d;
    (total[2 + parity] as number) += DOUBLED[d] as number;
    count++;
    gap = 0;
    if (anyWindow) windowsEndingHere(false);
    return;
  }
  if (count === 0) return;
  // A group ends here: before a separator run, or at the sequence's end.
  if (gap === 0 && !anyWindow) windowsEndingHere(false);
  if (isSeparator(c) && (anyWindow && c >= 0x80 && c <= 0xbf ? true : ++gap <= MAX_SEPARATOR_RUN)) return;
  endSequence();
}

function finish(): void {
  if (pendingRight) windowsEndingHere(lettersHex);
  else if (count > 0 && gap === 0 && !anyWindow) windowsEndingHere(false);
  endSequence();
}

/**
 * Whether text (an id, a reference, free text) contains a card number: a 13-19 digit window of a
 * digit sequence (see the module doc) with a card brand's prefix and length that passes Luhn. The
 * brand test keeps numeric ids (snowflakes and the like) from being mistaken for cards.
 */
export function containsPan(value: string): boolean {
  // Most fields hold fewer than 13 digits in all: a tight count rules them out before the scanner runs.
  const n = value.length;
  let digits = 0;
  for (let i = 0; i < n && digits < MIN_PAN; i++) {
    const c = value.charCodeAt(i);
    if (c >= 48 && c <= 57) digits++;
  }
  if (digits < MIN_PAN) return false;
  reset(false, value);
  for (let i = 0; i < n && !found; i++) feed(value.charCodeAt(i), i);
  if (!found) finish();
  text = ''; // not kept alive by the scanner
  return found;
}

/** Replaces every digit of every card number containsPan would find with `mask`; the text unchanged when there is none. */
export function redactPanText(input: string, mask = '#'): string {
  reset(false, input);
  const n = input.length;
  for (let i = 0; i < n; i++) feed(input.charCodeAt(i), i);
  finish();
  text = '';
  if (!found) return input;
  const chars = input.split('');
  for (let h = 0; h < hits.length; h += 2) {
    for (let p = hits[h] as number; p <= (hits[h + 1] as number); p++) {
      const c = input.charCodeAt(p);
      if (c >= 48 && c <= 57) chars[p] = mask;
    }
  }
  return chars.join('');
}

/**
 * Replaces every Luhn-valid 13-19 digit window of a digit sequence in raw bytes with '*', so
 * undecodable or invalid records can be dead-lettered without the card number in them. Strict on
 * purpose (no brand test, any window): over-redacting a dead letter costs little. Linear in the
 * input's length; the input is never modified.
 */
export function redactPanBytes(bytes: Buffer): { bytes: Buffer; redacted: boolean } {
  reset(true);
  const n = bytes.length;
  for (let i = 0; i < n; i++) feed(bytes[i] as number, i);
  finish();
  if (!found) return { bytes, redacted: false };
  const out = Buffer.from(bytes);
  for (let h = 0; h < hits.length; h += 2) {
    for (let p = hits[h] as number; p <= (hits[h + 1] as number); p++) {
      const b = out[p] as number;
      if (b >= 0x30 && b <= 0x39) out[p] = 0x2a;
    }
  }
  return { bytes: out, redacted: true };
}

/**
 * A number as a validation message may quote it: itself, unless its digits read as a card number (a
 * PAN typed into an amount or a time field), which is described, never shown.
 */
export function quotableNumber(n: number): string {
  const text = String(n);
  return containsPan(text) ? `a ${text.replace(/\D/g, '').length}-digit number (not shown: it reads as a card number)` : text;
}
