/** Builds dead-letter records: the record (original bytes or scrubbed), where it came from, and why it failed. */
import type avro from 'avsc';
import type { Message } from 'kafkajs';
import { redactPanBytes } from '../domain/pan.ts';
import { frame } from '../platform/schema-registry.ts';
import type { KafkaPosition } from './transactions.sink.ts';

export interface DeadLetter {
  position: KafkaPosition;
  timestamp: number;
  key: Buffer | null;
  /** Original value (card numbers masked), a scrubbed re-encoding of a decoded record, or null when too big to keep. */
  value: Buffer | null;
  redacted: boolean;
  errorClass: string;
  errorMessage: string;
}

/** Encodes dead letters as framed Avro DeadLetter records for the DLQ topic, keyed by the original key. */
export function deadLetterMessages(
  letters: readonly DeadLetter[],
  type: avro.Type,
  schemaId: number,
  processor: string,
): Message[] {
  return letters.map((d) => ({
    key: d.key,
    // The source record's timestamp: a replayed dead letter is byte-identical to the first one.
    timestamp: String(d.timestamp),
    value: frame(
      schemaId,
      type.toBuffer({
        source_topic: d.position.topic,
        source_partition: d.position.partition,
        source_offset: Number(d.position.offset),
        source_timestamp: d.timestamp,
        original_key: d.key,
        original_value: d.value,
        original_redacted: d.redacted,
        error_class: d.errorClass,
        error_message: d.errorMessage,
        processor,
      }),
    ),
    headers: {
      'txmon-error-class': d.errorClass,
      'txmon-source': `${d.position.topic}/${d.position.partition}/${d.position.offset}`,
    },
  }));
}

/**
 * The dead letter of a consumed record: its original key and value, or `replacement` (a scrubbed
 * re-encoding of a decoded record), or no value at all when `replacement` is null (a record too big
 * to keep). Never a card number: any Luhn-valid 13-19 digit window left is masked. `redacted` says
 * the value is not the original bytes.
 */
export function deadLetterOf(
  record: { key: Buffer | null; value: Buffer | null; timestamp: string },
  position: KafkaPosition,
  errorClass: string,
  errorMessage: string,
  replacement?: Buffer | null,
): DeadLetter {
  const source = replacement === undefined ? record.value : replacement;
  const v = source ? redactPanBytes(source) : { bytes: null, redacted: false };
  const k = record.key ? redactPanBytes(record.key) : { bytes: null, redacted: false };
  return {
    position,
    timestamp: Number(record.timestamp),
    key: k.bytes,
    value: v.bytes,
    redacted: replacement !== undefined || v.redacted || k.redacted,
    errorClass,
    errorMessage,
  };
}
