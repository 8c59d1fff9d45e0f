// Ingest's first step over records generated from schemas/transaction.avsc (issue 22): values the
// schema accepts, edges first, and the malformed byte strings a producer can send, through the real
// registry-framed decoder (its registry a fake that knows the transaction schema as id 1 and the
// settlement schema as id 2) and classify. At least 10,000 records a run: each ends valid or
// dead-lettered with a reason, exactly once; nothing throws; no card number reaches a dead letter.
import fc from 'fast-check';
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { describe, expect, it } from 'vitest';
import { containsPan } from '../domain/pan.ts';
import type { Transaction } from '../domain/transaction.ts';
import { AvroDecoder } from '../platform/schema-registry.ts';
import { avroType } from '../schemas/index.ts';
import { generatedTransactionRecord, NEVER_VALID } from '../tests/helpers/generated-transactions.ts';
import { classify, redactor, type RawRecord } from './classify.ts';

const type = avroType('transaction');
const IDS = { schemaId: 1, foreignId: 2, unknownId: 999 };
const registry = {
  getSchema: async (id: number) => {
    if (id === IDS.schemaId) return avroType('transaction');
    if (id === IDS.foreignId) return avroType('settlement');
    throw Object.assign(new Error(`schema ${id} not found`), { status: 404 });
  },
} as unknown as SchemaRegistry;

const NOW = 1_796_000_000_000;

/** A dead letter's re-encoded record, or null where the byte-level card-number mask made it undecodable. */
function decodedOrNull(value: Buffer): unknown {
  try {
    return type.fromBuffer(value.subarray(5));
  } catch {
    return null;
  }
}

const input = generatedTransactionRecord(IDS, Date.parse('2026-01-01T00:00:00Z'));

describe('ingest decode → validate → dead letters, on records generated from the Avro schema', () => {
  it(
    'property: ≥ 10,000 records, each valid or dead-lettered with a reason, once; never a throw; no card number in a dead letter',
    { timeout: 60_000 },
    async () => {
      const decoder = new AvroDecoder<Transaction>(registry, type, undefined, 0);
      const counts = { records: 0, valid: 0, deadLettered: 0, byKind: new Map<string, number>() };
      await fc.assert(
        fc.asyncProperty(fc.array(input, { minLength: 125, maxLength: 160 }), async (batch) => {
          const records: RawRecord[] = batch.map((b, i) => ({
            key: b.key,
            value: b.value,
            offset: String(i),
            timestamp: String(NOW),
          }));
          await decoder.warmValues(records.map((r) => r.value));
          const out = classify(records, {
            topic: 't',
            partition: 0,
            decode: (v) => decoder.decode(v),
            maxFutureSkewMs: 300_000,
            redact: redactor(type, IDS.schemaId),
          });
          // Each record in exactly one place.
          const placed = [...out.valid.map((v) => v.position.offset), ...out.deadLetters.map((d) => d.position.offset)].sort(
            (a, b) => Number(a) - Number(b),
          );
          expect(placed).toEqual(records.map((r) => r.offset));
          for (const d of out.deadLetters) {
            expect(d.errorClass).toMatch(/^[A-Z_]+$/);
            expect(d.errorMessage.length).toBeGreaterThan(0);
            expect(containsPan(d.errorMessage)).toBe(false);
            if (d.value !== null) expect(containsPan(d.value.toString('latin1'))).toBe(false);
            // A decoded record's dead letter is its scrubbed re-encoding: no card number in any field, numbers included.
            if (d.value !== null && (d.errorClass === 'VALIDATION_FAILED' || d.errorClass === 'PAN_DETECTED'))
              expect(containsPan(JSON.stringify(decodedOrNull(d.value)))).toBe(false);
          }
          const deadAt = new Set(out.deadLetters.map((d) => d.position.offset));
          batch.forEach((b, i) => {
            if (b.input.kind !== 'generated' && NEVER_VALID.has(b.input.kind))
              expect(deadAt.has(String(i)), b.input.kind).toBe(true);
          });
          // A generated record that passed is exactly what was sent.
          for (const v of out.valid) {
            const b = batch[Number(v.position.offset)];
            if (b?.input.kind === 'generated') expect(v.tx).toEqual(b.input.tx);
          }
          counts.records += records.length;
          counts.valid += out.valid.length;
          counts.deadLettered += out.deadLetters.length;
          for (const b of batch) counts.byKind.set(b.input.kind, (counts.byKind.get(b.input.kind) ?? 0) + 1);
        }),
        { numRuns: 80 },
      );
      expect(counts.records).toBeGreaterThanOrEqual(10_000);
      expect(counts.valid + counts.deadLettered).toBe(counts.records);
      // Both outcomes and every malformation were exercised.
      expect(counts.valid).toBeGreaterThan(0);
      expect(counts.deadLettered).toBeGreaterThan(0);
      for (const kind of ['generated', ...NEVER_VALID, 'bit-flipped', 'random-bytes'])
        expect(counts.byKind.get(kind) ?? 0, kind).toBeGreaterThan(0);
    },
  );
});
