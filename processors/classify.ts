/**
 * Step 1 of ingest: decode and validate a batch of raw Kafka records into valid transactions and
 * dead letters. No I/O: decoding is synchronous after the decoder has been warmed for the batch.
 */
import type avro from 'avsc';
import { DEFAULT_MAX_FIELD_CHARS, validateTransaction, type TextField, type Transaction } from '../domain/transaction.ts';
import { containsPan } from '../domain/pan.ts';
import { PoisonRecordError, errorClass, errorMessage } from '../platform/errors.ts';
import { frame } from '../platform/schema-registry.ts';
import { deadLetterOf, type DeadLetter } from '../sinks/dead-letter.sink.ts';
import type { PositionedTransaction } from '../sinks/transactions.sink.ts';

export interface RawRecord {
  key: Buffer | null;
  value: Buffer | null;
  offset: string;
  timestamp: string;
}

export interface Classified {
  valid: PositionedTransaction[];
  deadLetters: DeadLetter[];
}

/** Input size caps, checked before a record is decoded or scanned (config: TXMON_INGEST_MAX_RECORD_BYTES / _FIELD_CHARS). */
export interface InputCaps {
  /** Key + value bytes of one record. */
  maxRecordBytes: number;
  /** UTF-16 units of one string field. */
  maxFieldChars: number;
}

/**
 * 16 KiB: a record whose every string field is at the field cap (16 x 256 characters, 3 bytes each
 * at worst in UTF-8) still fits, so the record cap never rejects what the field cap accepts.
 */
export const DEFAULT_INPUT_CAPS: InputCaps = Object.freeze({ maxRecordBytes: 16 * 1024, maxFieldChars: DEFAULT_MAX_FIELD_CHARS });

export interface ClassifyContext {
  topic: string;
  partition: number;
  decode: (value: Buffer | null) => Transaction;
  maxFutureSkewMs: number;
  /** Re-encodes a record for its dead letter: card data scrubbed, these fields redacted (see redactor). */
  redact: (tx: Transaction, fields: readonly TextField[]) => Buffer;
  caps?: InputCaps;
}

/** The dead letter of a record over the size cap keeps neither its value nor an oversized key: they are never scanned. */
export function oversizedRecord(r: RawRecord, maxBytes: number): { message: string; key: Buffer | null } | null {
  const bytes = (r.key?.length ?? 0) + (r.value?.length ?? 0);
  if (bytes <= maxBytes) return null;
  return {
    message: `the record is ${bytes} bytes (key + value), more than the ${maxBytes} accepted; its value is not kept`,
    key: r.key !== null && r.key.length <= 256 ? r.key : null,
  };
}

/** Splits raw records into valid transactions and dead letters; never throws for a bad record. */
export function classify(records: readonly RawRecord[], ctx: ClassifyContext): Classified {
  const valid: PositionedTransaction[] = [];
  const deadLetters: DeadLetter[] = [];
  const caps = ctx.caps ?? DEFAULT_INPUT_CAPS;
  // One limits object for the batch, its timestamp set per record (validateTransaction keeps nothing of it).
  const limits = { recordTimestamp: 0, maxFutureSkewMs: ctx.maxFutureSkewMs, maxFieldChars: caps.maxFieldChars };
  for (const r of records) {
    const position = { topic: ctx.topic, partition: ctx.partition, offset: r.offset };
    const oversized = oversizedRecord(r, caps.maxRecordBytes);
    if (oversized) {
      deadLetters.push(deadLetterOf({ ...r, key: oversized.key }, position, 'OVERSIZED', oversized.message, null));
      continue;
    }
    let tx: Transaction;
    try {
      tx = ctx.decode(r.value);
    } catch (err) {
      if (!(err instanceof PoisonRecordError)) throw err;
      deadLetters.push(deadLetterOf(r, position, errorClass(err), errorMessage(err)));
      continue;
    }
    limits.recordTimestamp = Number(r.timestamp);
    const result = validateTransaction(tx, limits);
    if (result.ok) valid.push({ tx, position });
    // Never the original bytes of a decoded record: they hold the card token, last four, BIN and place.
    else deadLetters.push(deadLetterOf(r, position, result.code, result.problems.join('; '), ctx.redact(tx, result.redact)));
  }
  return { valid, deadLetters };
}

/** What a scrubbed card token reads in a dead letter. */
export const REDACTED = 'REDACTED';

/**
 * A redactor for dead letters: re-encodes the record (reader schema, framed with its registry id)
 * with the card data a PCI assessor would not want in a dead-letter topic scrubbed: card_token
 * replaced by REDACTED (it may be a PAN, and a hash of a PAN can be brute-forced), card_last4,
 * card_bin and the coordinates nulled; and `fields` (a card number, or too long to scan) REDACTED.
 * A number field whose digits read as a card number (amount_minor, event_time) is zeroed.
 * What stays: ids, amount, currency, times, channel, merchant: enough to find and replay the record.
 */
export function redactor(
  readerType: avro.Type,
  readerSchemaId: number,
): (tx: Transaction, fields: readonly TextField[]) => Buffer {
  return (tx, fields) => {
    const copy: Transaction = { ...tx, card_token: REDACTED, card_last4: null, card_bin: null, latitude: null, longitude: null };
    for (const f of fields) (copy as unknown as Record<string, unknown>)[f] = REDACTED;
    // A card number typed into a number field (the amount, a time) is zeroed; the reason says so.
    if (containsPan(String(copy.amount_minor))) copy.amount_minor = 0;
    if (containsPan(String(copy.event_time))) copy.event_time = 0;
    return frame(readerSchemaId, readerType.toBuffer(copy));
  };
}
