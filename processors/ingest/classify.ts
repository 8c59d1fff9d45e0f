/**
 * Step 1 of ingest: decode and validate a batch of raw Kafka records into valid transactions and
 * dead letters. No I/O: decoding is synchronous after the decoder has been warmed for the batch.
 */
import type avro from 'avsc';
import { validateTransaction, type PanField, type Transaction } from '../../domain/transaction.ts';
import { PoisonRecordError, errorClass, errorMessage } from '../../platform/errors.ts';
import { frame } from '../../platform/registry.ts';
import { deadLetterOf, type DeadLetter } from '../../sinks/dead-letter.sink.ts';
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
    const dead = (errorClassName: string, message: string, replacement?: Buffer) =>
      deadLetters.push(deadLetterOf(r, position, errorClassName, message, replacement));
    let tx: Transaction;
    try {
      tx = ctx.decode(r.value);
    } catch (err) {
      if (!(err instanceof PoisonRecordError)) throw err;
      dead(errorClass(err), errorMessage(err));
      continue;
    }
    const result = validateTransaction(tx, { recordTimestamp: Number(r.timestamp), maxFutureSkewMs: ctx.maxFutureSkewMs });
    if (result.ok) {
      valid.push({ tx, position });
    } else if (result.code === 'PAN_DETECTED') {
      dead(result.code, result.problems.join('; '), ctx.redact(tx, result.panFields));
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
