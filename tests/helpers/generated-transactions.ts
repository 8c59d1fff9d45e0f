/**
 * Transaction records generated from schemas/transaction.avsc (issue 22), framed as a producer sends
 * them: schema-generated values, records near a valid one, and every malformation of
 * tests/helpers/avro-arbitrary.ts. Shared by the unit property (processors/generated-input.test.ts)
 * and the end-to-end run through the real services (tests/e2e/generated-input.e2e.test.ts).
 */
import fc from 'fast-check';
import { sampleTransaction } from '../../domain/transaction.fixture.ts';
import type { Transaction } from '../../domain/transaction.ts';
import { frame } from '../../platform/schema-registry.ts';
import { avroType, schemaText } from '../../schemas/index.ts';
import { avroArbitrary, hugeLongArbitrary, malformedArbitrary, type Malformation } from './avro-arbitrary.ts';

const type = avroType('transaction');
const schema = JSON.parse(schemaText('transaction')) as { type: 'record'; fields: Array<{ name: string; type: unknown }> };
const anyRecord = avroArbitrary(schema) as fc.Arbitrary<Transaction>;

/**
 * Records near valid ones: a schema-generated record whose fields, all but up to three drawn ones,
 * are taken from a valid transaction (unique ids, event time `eventTime`). A field the schema gains
 * and the base lacks stays generated, so it is always exercised; with no field drawn the record is valid.
 */
function nearValid(eventTime: number): fc.Arbitrary<Transaction> {
  return fc
    .tuple(
      anyRecord,
      fc.subarray(
        schema.fields.map((f) => f.name),
        { maxLength: 3 },
      ),
      fc.uuid(),
    )
    .map(([any, drawn, id]) => {
      const base = sampleTransaction({ transaction_id: id, idempotency_key: id, event_time: eventTime }) as unknown as Record<
        string,
        unknown
      >;
      const out = { ...(any as unknown as Record<string, unknown>) };
      for (const f of schema.fields) if (!drawn.includes(f.name) && f.name in base) out[f.name] = base[f.name];
      return out as unknown as Transaction;
    });
}

/** Always malformed, whatever the draw (a bit flip may leave a record that still decodes). */
export const NEVER_VALID: ReadonlySet<Malformation> = new Set([
  'huge-long',
  'truncated',
  'trailing-bytes',
  'wrong-magic-byte',
  'unknown-schema-id',
  'foreign-schema-id',
  'empty',
  'null',
]);

export type GeneratedInput = { kind: 'generated'; tx: Transaction } | { kind: Malformation };
export interface GeneratedRecord {
  input: GeneratedInput;
  value: Buffer | null;
  key: Buffer | null;
}

/**
 * One record as sent: `ids.schemaId` the registry's id of the transaction schema, `foreignId` another
 * schema it knows, `unknownId` one it does not; near-valid records are at `eventTime`.
 */
export function generatedTransactionRecord(
  ids: { schemaId: number; foreignId: number; unknownId: number },
  eventTime: number,
): fc.Arbitrary<GeneratedRecord> {
  const generated = fc.oneof(anyRecord, nearValid(eventTime));
  return fc.oneof(
    generated.map((tx) => ({
      input: { kind: 'generated' as const, tx },
      value: frame(ids.schemaId, type.toBuffer(tx)),
      key: Buffer.from(tx.account_id),
    })),
    malformedArbitrary(
      generated.map((tx) => type.toBuffer(tx)),
      ids,
      hugeLongArbitrary(schema, generated as unknown as fc.Arbitrary<Record<string, unknown>>),
    ).map((m) => ({ input: { kind: m.how }, value: m.value, key: null })),
  );
}
