/**
 * Step 1 of ingest: decode and validate a batch of raw Kafka records into valid transactions and
 * dead letters. No I/O: decoding is synchronous after the decoder has been warmed for the batch.
 */
import type avro from 'avsc';
import { redactPanBytes } from '../../domain/pan.ts';
import { validateTransaction, type PanField, type Transaction } from '../../domain/transaction.ts';
import { PoisonRecordError, errorClass, errorMessage } from '../../platform/errors.ts';
import { frame } from '../../platform/registry.ts';
import type { DeadLetter } from '../../sinks/dead-letter.sink.ts';
import type { PositionedTransaction } from '../../sinks/transactions.sink.ts';

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

export interface ClassifyContext {
  topic: string;
  partition: number;
  decode: (value: Buffer | null) => Transaction;
  maxFutureSkewMs: number;
  /** Re-encodes a record with these fields redacted (reader schema + its registered id). */
  redact: (tx: Transaction, fields: readonly PanField[]) => Buffer;
}

/** Splits raw records into valid transactions and dead letters; never throws for a bad record. */
export function classify(records: readonly RawRecord[], ctx: ClassifyContext): Classified {
  const valid: PositionedTransaction[] = [];
  const deadLetters: DeadLetter[] = [];
  for (const r of records) {
    const position = { topic: ctx.topic, partition: ctx.partition, offset: r.offset };
    const timestamp = Number(r.timestamp);
    // Dead letters keep the original bytes, but never a card number: any Luhn-valid digit run is masked.
    const dead = (errorClassName: string, message: string, value = r.value, redacted = false) => {
      const v = value ? redactPanBytes(value) : { bytes: null, redacted: false };
      const k = r.key ? redactPanBytes(r.key) : { bytes: null, redacted: false };
      deadLetters.push({
        position,
        timestamp,
        key: k.bytes,
        value: v.bytes,
        redacted: redacted || v.redacted || k.redacted,
        errorClass: errorClassName,
        errorMessage: message,
      });
    };
    let tx: Transaction;
    try {
      tx = ctx.decode(r.value);
    } catch (err) {
      if (!(err instanceof PoisonRecordError)) throw err;
      dead(errorClass(err), errorMessage(err));
      continue;
    }
    const result = validateTransaction(tx, { recordTimestamp: timestamp, maxFutureSkewMs: ctx.maxFutureSkewMs });
    if (result.ok) {
      valid.push({ tx, position });
    } else if (result.code === 'PAN_DETECTED') {
      dead(result.code, result.problems.join('; '), ctx.redact(tx, result.panFields), true);
    } else {
      dead(result.code, result.problems.join('; '));
    }
  }
  return { valid, deadLetters };
}

/** A redactor that re-encodes with the given fields replaced, framed with the reader schema's registry id. */
export function redactor(
  readerType: avro.Type,
  readerSchemaId: number,
): (tx: Transaction, fields: readonly PanField[]) => Buffer {
  return (tx, fields) => {
    const copy: Transaction = { ...tx, card_last4: null };
    for (const f of fields) copy[f] = 'REDACTED';
    return frame(readerSchemaId, readerType.toBuffer(copy));
  };
}
