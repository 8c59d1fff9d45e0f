/** The Transaction contract as a TypeScript type, and its semantic validation (pure: no I/O, no clock). */
import { isKnownCurrency } from './currencies.ts';
import { isoTime } from './iso-time.ts';
import { containsPan, looksLikePan, quotableNumber } from './pan.ts';

export type TransactionType = 'AUTHORIZATION' | 'CAPTURE' | 'REFUND' | 'REVERSAL';
export type Channel = 'POS' | 'ECOMMERCE' | 'ATM' | 'MOTO' | 'RECURRING' | 'OTHER';

/** One record of schemas/transaction.avsc as avsc decodes it (timestamp-millis as epoch ms). */
export interface Transaction {
  transaction_id: string;
  idempotency_key: string;
  type: TransactionType;
  account_id: string;
  card_token: string;
  card_last4: string | null;
  merchant_id: string;
  mcc: string;
  merchant_country: string;
  amount_minor: number;
  currency: string;
  event_time: number;
  channel: Channel;
  device_id: string | null;
  ip_country: string | null;
  reference: string | null;
  parent_transaction_id: string | null;
  latitude: number | null;
  longitude: number | null;
  /** First 6-8 digits of the card, for the issuing country (absent from older writers: null). */
  card_bin: string | null;
}

export interface ValidationLimits {
  /** The Kafka record's own timestamp (ms): event times may not lie further ahead of it than `maxFutureSkewMs`. */
  recordTimestamp: number;
  maxFutureSkewMs: number;
  /** Longest string field accepted, in UTF-16 units (DEFAULT_MAX_FIELD_CHARS when absent); checked before any other. */
  maxFieldChars?: number;
}

/**
 * Longest string field accepted by default: twice the longest legal field (idempotency_key, 128),
 * so a string field never costs more to scan than a few hundred characters.
 */
export const DEFAULT_MAX_FIELD_CHARS = 256;

/** A string field of the record (top-level: the schema is flat). */
export type TextField = {
  [K in keyof Transaction]-?: Transaction[K] extends string | null ? K : never;
}[keyof Transaction];

export type ValidationResult =
  | { ok: true }
  | { ok: false; code: 'VALIDATION_FAILED'; problems: string[]; redact: TextField[] }
  /** `redact`: the fields too long to scan, and any other field with a card number. */
  | { ok: false; code: 'OVERSIZED'; problems: string[]; redact: TextField[] }
  | { ok: false; code: 'PAN_DETECTED'; problems: string[]; redact: TextField[] };

/** Kept for callers that name the fields a redaction replaces. */
export type PanField = TextField;

/**
 * Fields of the record that carry a card number: every string field by containsPan (brand prefix +
 * Luhn, any separators, letters around), card_token also strictly (any Luhn-valid 13-19 digits).
 * `skip`: fields not to scan (too long). The fields are read off the record itself rather than a
 * list, so a field added to the schema is scanned without anyone remembering to add it here; enum
 * fields are strings too, and scanning them is cheap and harmless.
 */
export function panFieldsOf(tx: Transaction, skip: readonly TextField[] = NO_FIELDS): readonly TextField[] {
  let found: TextField[] | undefined;
  const record = tx as unknown as Record<string, unknown>;
  for (const key of fieldNames(tx)) {
    const value = record[key];
    if (typeof value !== 'string' || skip.includes(key as TextField)) continue;
    if (containsPan(value) || (key === 'card_token' && looksLikePan(value))) (found ??= []).push(key as TextField);
  }
  return found ?? NO_FIELDS;
}

/** String fields longer than `max` characters. */
export function oversizedFieldsOf(tx: Transaction, max: number): readonly TextField[] {
  let found: TextField[] | undefined;
  const record = tx as unknown as Record<string, unknown>;
  for (const key of fieldNames(tx)) {
    const value = record[key];
    if (typeof value === 'string' && value.length > max) (found ??= []).push(key as TextField);
  }
  return found ?? NO_FIELDS;
}

/** What panFieldsOf and oversizedFieldsOf return when they find nothing (the usual record): no list allocated per record. */
const NO_FIELDS: readonly TextField[] = Object.freeze([]);

/** Own field names per record class: avsc's decoded records share one class, whose methods for-in would walk too. */
const namesByClass = new WeakMap<object, readonly string[]>();

/** The record's own field names (every decoded record has all of its schema's fields, null or not). */
function fieldNames(tx: Transaction): readonly string[] {
  const proto = Object.getPrototypeOf(tx) as object | null;
  // Plain objects (tests, the simulator) may differ in shape: read each afresh.
  if (proto === null || proto === Object.prototype) return Object.keys(tx);
  let names = namesByClass.get(proto);
  if (names === undefined) {
    names = Object.keys(tx);
    namesByClass.set(proto, names);
  }
  return names;
}

/** Earliest event time accepted: 2000-01-01T00:00:00Z. */
export const MIN_EVENT_TIME = 946_684_800_000;
/** Largest amount accepted, in minor units (a sanity bound far above any real payment). */
export const MAX_AMOUNT_MINOR = 1_000_000_000_000_000;

const ID = /^[\x21-\x7e]{1,64}$/;
const KEY = /^[\x21-\x7e]{1,128}$/;
const COUNTRY = /^[A-Z]{2}$/;
const MCC = /^\d{4}$/;
const LAST4 = /^\d{4}$/;

/**
 * Semantic checks the Avro schema cannot express. Deterministic: depends only on the record and
 * its Kafka timestamp, never on the wall clock, so a replay validates exactly as the first pass did.
 * Problems never quote a card token (it may be a PAN).
 */
export function validateTransaction(tx: Transaction, limits: ValidationLimits): ValidationResult {
  // Sizes first: nothing longer than the cap is scanned or matched against a pattern.
  const max = limits.maxFieldChars ?? DEFAULT_MAX_FIELD_CHARS;
  const oversized = oversizedFieldsOf(tx, max);
  const panFields = panFieldsOf(tx, oversized);
  if (oversized.length > 0) {
    return {
      ok: false,
      code: 'OVERSIZED',
      redact: [...oversized, ...panFields],
      problems: oversized.map(
        (f) => `${f} is ${(tx[f] as string).length} characters long, more than the ${max} accepted for a field`,
      ),
    };
  }
  if (panFields.length > 0) {
    return {
      ok: false,
      code: 'PAN_DETECTED',
      redact: [...panFields],
      problems: [
        `${panFields.join(', ')} ${panFields.length > 1 ? 'carry' : 'carries'} a raw card number (PAN); only card tokens are accepted`,
      ],
    };
  }
  // A card number typed into the amount (no real amount has 13 digits and reads as one): never stored.
  if (Number.isSafeInteger(tx.amount_minor) && containsPan(String(tx.amount_minor)))
    return {
      ok: false,
      code: 'PAN_DETECTED',
      redact: [],
      problems: [`amount_minor is ${quotableNumber(tx.amount_minor)}; only amounts are accepted`],
    };
  const problems: string[] = [];
  checkId(problems, 'transaction_id', tx.transaction_id, ID);
  checkId(problems, 'idempotency_key', tx.idempotency_key, KEY);
  checkId(problems, 'account_id', tx.account_id, ID);
  checkId(problems, 'merchant_id', tx.merchant_id, ID);
  if (!ID.test(tx.card_token)) problems.push('card_token must be 1-64 printable ASCII characters without spaces');
  if (tx.card_last4 !== null && !LAST4.test(tx.card_last4)) problems.push('card_last4 must be exactly 4 digits');
  if (tx.card_bin !== null && !/^\d{6,8}$/.test(tx.card_bin)) problems.push('card_bin must be 6 to 8 digits');
  if (tx.device_id !== null) checkId(problems, 'device_id', tx.device_id, ID);
  if (tx.reference !== null) checkId(problems, 'reference', tx.reference, ID);
  if (tx.parent_transaction_id !== null) checkId(problems, 'parent_transaction_id', tx.parent_transaction_id, ID);
  if (!MCC.test(tx.mcc)) problems.push(`mcc must be 4 digits (got ${JSON.stringify(tx.mcc.slice(0, 8))})`);
  if (!COUNTRY.test(tx.merchant_country))
    problems.push(`merchant_country must be ISO 3166-1 alpha-2 (got ${JSON.stringify(tx.merchant_country.slice(0, 8))})`);
  if (tx.ip_country !== null && !COUNTRY.test(tx.ip_country))
    problems.push(`ip_country must be ISO 3166-1 alpha-2 (got ${JSON.stringify(tx.ip_country.slice(0, 8))})`);
  if (!Number.isSafeInteger(tx.amount_minor) || tx.amount_minor <= 0)
    problems.push(`amount_minor must be a positive integer (got ${quotableNumber(tx.amount_minor)})`);
  else if (tx.amount_minor > MAX_AMOUNT_MINOR)
    problems.push(`amount_minor ${quotableNumber(tx.amount_minor)} exceeds the sanity bound ${MAX_AMOUNT_MINOR}`);
  if (!isKnownCurrency(tx.currency))
    problems.push(`currency ${JSON.stringify(tx.currency.slice(0, 8))} is not an active ISO 4217 code`);
  if (!Number.isSafeInteger(tx.event_time) || tx.event_time < MIN_EVENT_TIME) {
    problems.push(`event_time ${quotableNumber(tx.event_time)} is before 2000-01-01`);
  } else if (tx.event_time > limits.recordTimestamp + limits.maxFutureSkewMs) {
    problems.push(
      `event_time ${isoTime(tx.event_time)} is more than ${limits.maxFutureSkewMs} ms after the record's Kafka timestamp`,
    );
  }
  if (tx.latitude !== null && !(Number.isFinite(tx.latitude) && Math.abs(tx.latitude) <= 90))
    problems.push('latitude must be within [-90, 90]');
  if (tx.longitude !== null && !(Number.isFinite(tx.longitude) && Math.abs(tx.longitude) <= 180))
    problems.push('longitude must be within [-180, 180]');
  if ((tx.latitude === null) !== (tx.longitude === null)) problems.push('latitude and longitude must be given together');
  return problems.length === 0 ? VALID : { ok: false, code: 'VALIDATION_FAILED', problems, redact: [] };
}

/** The result of every valid record (one object, not one per record). */
const VALID: ValidationResult = Object.freeze({ ok: true });

function checkId(problems: string[], name: string, value: string, re: RegExp): void {
  if (!re.test(value)) problems.push(`${name} must be 1-${re === KEY ? 128 : 64} printable ASCII characters without spaces`);
}
