/**
 * Decodes and validates a batch of settlement records into valid lines and dead letters. No I/O:
 * decoding is synchronous after the decoder has been warmed for the batch.
 */
import { validateSettlement, type Settlement } from '../../domain/settlement.ts';
import { PoisonRecordError, errorClass, errorMessage } from '../../platform/errors.ts';
import { deadLetterOf, type DeadLetter } from '../../sinks/dead-letter.sink.ts';
import type { PositionedSettlement } from '../../sinks/recon.sink.ts';
import { DEFAULT_INPUT_CAPS, oversizedRecord, type InputCaps, type RawRecord } from '../classify.ts';

/** Splits raw records into valid settlement lines and dead letters; never throws for a bad record. */
export function classifySettlements(
  records: readonly RawRecord[],
  ctx: {
    topic: string;
    partition: number;
    decode: (value: Buffer | null) => Settlement;
    maxFutureSkewMs: number;
    caps?: InputCaps;
  },
): { valid: PositionedSettlement[]; deadLetters: DeadLetter[] } {
  const caps = ctx.caps ?? DEFAULT_INPUT_CAPS;
  const valid: PositionedSettlement[] = [];
  const deadLetters: DeadLetter[] = [];
  for (const r of records) {
    const position = { topic: ctx.topic, partition: ctx.partition, offset: r.offset };
    // A settlement line holds no card data of its own: its dead letter keeps the original bytes, card numbers masked.
    const dead = (cls: string, message: string) => deadLetters.push(deadLetterOf(r, position, cls, message));
    const oversized = oversizedRecord(r, caps.maxRecordBytes);
    if (oversized) {
      deadLetters.push(deadLetterOf({ ...r, key: oversized.key }, position, 'OVERSIZED', oversized.message, null));
      continue;
    }
    let line: Settlement;
    try {
      line = ctx.decode(r.value);
    } catch (err) {
      if (!(err instanceof PoisonRecordError)) throw err;
      dead(errorClass(err), errorMessage(err));
      continue;
    }
    const result = validateSettlement(line, {
      recordTimestamp: Number(r.timestamp),
      maxFutureSkewMs: ctx.maxFutureSkewMs,
      maxFieldChars: caps.maxFieldChars,
    });
    if (result.ok) valid.push({ line, position });
    else dead(result.code, result.problems.join('; '));
  }
  return { valid, deadLetters };
}
