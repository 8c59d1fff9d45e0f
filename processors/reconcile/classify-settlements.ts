/**
 * Decodes and validates a batch of settlement records into valid lines and dead letters. No I/O:
 * decoding is synchronous after the decoder has been warmed for the batch.
 */
import { validateSettlement, type Settlement } from '../../domain/settlement.ts';
import { PoisonRecordError, errorClass, errorMessage } from '../../platform/errors.ts';
import { deadLetterOf, type DeadLetter } from '../../sinks/dead-letter.sink.ts';
import type { KafkaPosition } from '../../sinks/transactions.sink.ts';
import type { RawRecord } from '../ingest/classify.ts';

export interface PositionedSettlement {
  line: Settlement;
  position: KafkaPosition;
}

/** Splits raw records into valid settlement lines and dead letters; never throws for a bad record. */
export function classifySettlements(
  records: readonly RawRecord[],
  ctx: { topic: string; partition: number; decode: (value: Buffer | null) => Settlement; maxFutureSkewMs: number },
): { valid: PositionedSettlement[]; deadLetters: DeadLetter[] } {
  const valid: PositionedSettlement[] = [];
  const deadLetters: DeadLetter[] = [];
  for (const r of records) {
    const position = { topic: ctx.topic, partition: ctx.partition, offset: r.offset };
    const dead = (cls: string, message: string) => deadLetters.push(deadLetterOf(r, position, cls, message));
    let line: Settlement;
    try {
      line = ctx.decode(r.value);
    } catch (err) {
      if (!(err instanceof PoisonRecordError)) throw err;
      dead(errorClass(err), errorMessage(err));
      continue;
    }
    const result = validateSettlement(line, { recordTimestamp: Number(r.timestamp), maxFutureSkewMs: ctx.maxFutureSkewMs });
    if (result.ok) valid.push({ line, position });
    else dead(result.code, result.problems.join('; '));
  }
  return { valid, deadLetters };
}
