/**
 * Times in validation messages, for any number a producer can send: `Date#toISOString` throws a
 * RangeError beyond ±8.64e15 ms (about ±275,000 years), and a message must never be what crashes
 * the step that dead-letters the record (issue 22's generated records found event times up to 2^53).
 */

import { quotableNumber } from './pan.ts';

/** The largest |ms| a JavaScript Date holds. */
const DATE_RANGE_MS = 8.64e15;

/** ISO 8601 of an epoch-ms time, or the number itself (with its unit) where no Date can hold it. */
export function isoTime(ms: number): string {
  return Number.isFinite(ms) && Math.abs(ms) <= DATE_RANGE_MS
    ? new Date(ms).toISOString()
    : `${quotableNumber(ms)} ms since 1970`;
}

/** `YYYY-MM-DD` of an Avro date (days since 1970-01-01), or the number of days where no Date can hold it. */
export function isoDay(days: number): string {
  const ms = days * 86_400_000;
  return Number.isFinite(ms) && Math.abs(ms) <= DATE_RANGE_MS
    ? new Date(ms).toISOString().slice(0, 10)
    : `${days} days since 1970`;
}
