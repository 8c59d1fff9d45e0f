/** The Settlement contract as a TypeScript type, and its semantic validation (pure: no I/O, no clock). */
import { isKnownCurrency } from './currencies.ts';
import { isoDay, isoTime } from './iso-time.ts';
import { containsPan, quotableNumber } from './pan.ts';
import { DEFAULT_MAX_FIELD_CHARS, MAX_AMOUNT_MINOR, MIN_EVENT_TIME } from './transaction.ts';

/** One record of schemas/settlement.avsc as avsc decodes it (date = days since 1970-01-01, timestamp = epoch ms). */
export interface Settlement {
  settlement_id: string;
  transaction_reference: string;
  /** Integer minor units of `currency`; negative for a refund or adjustment line. */
  amount_minor: number;
  currency: string;
  /** Days since 1970-01-01 (Avro `date`). */
  settlement_date: number;
  batch_id: string;
  fee_minor: number;
  /** When the acquirer or bank settled the line (event time), epoch ms. */
  event_time: number;
}

export type SettlementValidation =
  { ok: true } | { ok: false; code: 'VALIDATION_FAILED' | 'PAN_DETECTED' | 'OVERSIZED'; problems: string[] };

const ID = /^[\x21-\x7e]{1,64}$/;
const DAY_MS = 86_400_000;
/** Latest settlement date accepted relative to the event time: a line is not settled days ahead of itself. */
const MAX_DATE_AHEAD_DAYS = 7;

/** The id fields (printable ASCII, 1-64). */
const TEXT_FIELDS = ['settlement_id', 'transaction_reference', 'batch_id'] as const;

/** Every string field of the line, read off the record (a field added to the schema is covered), whose value passes `test`. */
function stringFields(s: Settlement, test: (value: string) => boolean): string[] {
  const found: string[] = [];
  for (const key in s) {
    const value = (s as unknown as Record<string, unknown>)[key];
    if (typeof value === 'string' && test(value)) found.push(key);
  }
  return found;
}

/**
 * Checks the Avro schema cannot express. Deterministic: depends only on the record and its Kafka
 * timestamp (or the import's clock), so a replay validates exactly as the first pass did. Problems
 * never quote a field that carries a card number.
 */
export function validateSettlement(
  s: Settlement,
  limits: { recordTimestamp: number; maxFutureSkewMs: number; maxFieldChars?: number },
): SettlementValidation {
  // Sizes first: nothing longer than the cap is scanned or matched against a pattern.
  const max = limits.maxFieldChars ?? DEFAULT_MAX_FIELD_CHARS;
  const long = stringFields(s, (v) => v.length > max);
  if (long.length > 0)
    return {
      ok: false,
      code: 'OVERSIZED',
      problems: long.map((f) => `${f} is longer than the ${max} characters accepted for a field`),
    };
  const pan = stringFields(s, containsPan);
  if (pan.length > 0)
    return {
      ok: false,
      code: 'PAN_DETECTED',
      problems: [`${pan.join(', ')} ${pan.length > 1 ? 'carry' : 'carries'} a raw card number (PAN)`],
    };
  // A card number typed into an amount: never stored (no real amount or fee has 13 digits and reads as one).
  const panNumbers = (['amount_minor', 'fee_minor'] as const).filter(
    (f) => Number.isSafeInteger(s[f]) && containsPan(String(Math.abs(s[f]))),
  );
  if (panNumbers.length > 0)
    return {
      ok: false,
      code: 'PAN_DETECTED',
      problems: panNumbers.map((f) => `${f} is ${quotableNumber(Math.abs(s[f]))}; only amounts are accepted`),
    };
  const problems: string[] = [];
  for (const f of TEXT_FIELDS) if (!ID.test(s[f])) problems.push(`${f} must be 1-64 printable ASCII characters without spaces`);
  if (!Number.isSafeInteger(s.amount_minor) || Math.abs(s.amount_minor) > MAX_AMOUNT_MINOR)
    problems.push(
      `amount_minor must be an integer of at most ${MAX_AMOUNT_MINOR} in magnitude (got ${quotableNumber(s.amount_minor)})`,
    );
  if (!Number.isSafeInteger(s.fee_minor) || s.fee_minor < 0 || s.fee_minor > MAX_AMOUNT_MINOR)
    problems.push(`fee_minor must be a non-negative integer (got ${quotableNumber(s.fee_minor)})`);
  if (!isKnownCurrency(s.currency))
    problems.push(`currency ${JSON.stringify(s.currency.slice(0, 8))} is not an active ISO 4217 code`);
  if (!Number.isSafeInteger(s.event_time) || s.event_time < MIN_EVENT_TIME)
    problems.push(`event_time ${quotableNumber(s.event_time)} is before 2000-01-01`);
  else if (s.event_time > limits.recordTimestamp + limits.maxFutureSkewMs)
    problems.push(`event_time ${isoTime(s.event_time)} is more than ${limits.maxFutureSkewMs} ms after the record's timestamp`);
  const minDate = Math.floor(MIN_EVENT_TIME / DAY_MS);
  if (!Number.isSafeInteger(s.settlement_date) || s.settlement_date < minDate)
    problems.push(`settlement_date ${quotableNumber(s.settlement_date)} is not a date on or after 2000-01-01`);
  else if (Number.isSafeInteger(s.event_time) && s.settlement_date > Math.floor(s.event_time / DAY_MS) + MAX_DATE_AHEAD_DAYS)
    problems.push(
      `settlement_date ${isoDay(s.settlement_date)} is more than ${MAX_DATE_AHEAD_DAYS} days after the event time ${isoTime(s.event_time)}`,
    );
  return problems.length === 0 ? { ok: true } : { ok: false, code: 'VALIDATION_FAILED', problems };
}

/** `YYYY-MM-DD` of an Avro date (days since 1970-01-01); one formatter with the validators' messages. */
export const isoDate = isoDay;

/** Days since 1970-01-01 of a `YYYY-MM-DD` date, or null when it is not a real calendar date. */
export function parseIsoDate(text: string): number | null {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return null;
  const ms = Date.parse(`${text}T00:00:00Z`);
  if (!Number.isFinite(ms) || new Date(ms).toISOString().slice(0, 10) !== text) return null;
  return ms / DAY_MS;
}
