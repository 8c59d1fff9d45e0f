/**
 * fast-check arbitraries derived from an Avro schema's JSON (issue 22, "tests that generate
 * themselves"): values the schema accepts, leaning on the edges (empty and very long strings,
 * card-number-like digits, control characters and astral-plane text, 0, ±1, the int32 and safe-
 * integer limits, NaN and ±Infinity, times around now and the epoch), and the malformed byte strings
 * a producer can send (truncated, bit-flipped, trailing bytes, wrong magic byte, unknown or foreign
 * schema ids, random bytes, empty). A field added to `schemas/*.avsc` is generated with no change
 * here. Test support only: nothing in the product imports it.
 */
import avro from 'avsc';
import fc from 'fast-check';
import { frame } from '../../platform/schema-registry.ts';

export type AvroSchema = string | AvroSchema[] | { type: string | AvroSchema; [key: string]: unknown };

const EDGE_STRINGS = [
  '',
  ' ',
  '\u0000',
  '\t\n',
  'é',
  '𝄞',
  '4111111111111111', // a card number (Luhn-valid): never stored, never logged
  '4111 1111 1111 1111',
  '0000',
  '-1',
  'null',
  "'; DROP TABLE transactions; --",
  '<script>alert(1)</script>',
  'x'.repeat(257),
  '9'.repeat(19),
];

const NOW = 1_796_000_000_000;

function stringArb(): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.string({ maxLength: 24 }) },
    { weight: 2, arbitrary: fc.constantFrom(...EDGE_STRINGS) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 32 }) },
    { weight: 1, arbitrary: fc.string({ minLength: 200, maxLength: 400 }) },
    { weight: 2, arbitrary: fc.stringMatching(/^[A-Z]{2,3}$/) },
    { weight: 2, arbitrary: fc.stringMatching(/^[0-9]{1,8}$/) },
  );
}

/** The largest magnitude avsc reads into a JS number (beyond it: "potential precision loss", see hugeLong). */
const LONG_MAX = 2 ** 53 - 2;

function longArb(logical: unknown): fc.Arbitrary<number> {
  const edges = fc.constantFrom(0, 1, -1, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, LONG_MAX, -LONG_MAX);
  const any = fc.integer({ min: -LONG_MAX, max: LONG_MAX });
  if (logical === 'timestamp-millis' || logical === 'timestamp-micros')
    return fc.oneof(edges, fc.integer({ min: NOW - 30 * 86_400_000, max: NOW + 86_400_000 }), any);
  return fc.oneof(edges, fc.integer({ min: -1_000_000, max: 100_000_000 }), any);
}

/** An arbitrary of values `schema` accepts (named types resolved through `named`). */
export function avroArbitrary(
  schema: AvroSchema,
  named = new Map<string, fc.Arbitrary<unknown>>(),
  namespace = '',
): fc.Arbitrary<unknown> {
  if (Array.isArray(schema)) return fc.oneof(...schema.map((s) => avroArbitrary(s, named, namespace)));
  if (typeof schema === 'string') {
    switch (schema) {
      case 'null':
        return fc.constant(null);
      case 'boolean':
        return fc.boolean();
      case 'int':
        return fc.oneof(fc.constantFrom(0, -1, 2 ** 31 - 1, -(2 ** 31)), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }));
      case 'long':
        return longArb(undefined);
      case 'float':
      case 'double':
        return fc.oneof(fc.double(), fc.constantFrom(0, -0, NaN, Infinity, -Infinity, 1e308, -1e-308));
      case 'bytes':
        return fc.uint8Array({ maxLength: 32 }).map((a) => Buffer.from(a));
      case 'string':
        return stringArb();
      default: {
        const ref = named.get(schema) ?? named.get(`${namespace}.${schema}`);
        if (ref === undefined) throw new Error(`unknown Avro type ${schema}`);
        return ref;
      }
    }
  }
  const { type } = schema;
  if (typeof type !== 'string') return avroArbitrary(type, named, namespace);
  const fullName = (name: unknown) =>
    String(name).includes('.') || namespace === '' ? String(name) : `${namespace}.${String(name)}`;
  switch (type) {
    case 'record': {
      const ns = typeof schema.namespace === 'string' ? schema.namespace : namespace;
      const fields = schema.fields as Array<{ name: string; type: AvroSchema }>;
      const shape: Record<string, fc.Arbitrary<unknown>> = {};
      for (const f of fields) shape[f.name] = avroArbitrary(f.type, named, ns);
      const arb = fc.record(shape);
      named.set(fullName(schema.name), arb);
      named.set(String(schema.name), arb);
      return arb;
    }
    case 'enum': {
      const arb = fc.constantFrom(...(schema.symbols as string[]));
      named.set(fullName(schema.name), arb);
      named.set(String(schema.name), arb);
      return arb;
    }
    case 'array':
      return fc.array(avroArbitrary(schema.items as AvroSchema, named, namespace), { maxLength: 4 });
    case 'map':
      return fc.dictionary(fc.string({ maxLength: 8 }), avroArbitrary(schema.values as AvroSchema, named, namespace), {
        maxKeys: 4,
      });
    case 'fixed':
      return fc.uint8Array({ minLength: schema.size as number, maxLength: schema.size as number }).map((a) => Buffer.from(a));
    case 'long':
      return longArb(schema.logicalType);
    default:
      return avroArbitrary(type, named, namespace);
  }
}

/** Avro's zigzag varint of a 64-bit long. */
function varint(n: bigint): Buffer {
  let z = BigInt.asUintN(64, (n << 1n) ^ (n >> 63n));
  const out: number[] = [];
  while (z >= 0x80n) {
    out.push(Number((z & 0x7fn) | 0x80n));
    z >>= 7n;
  }
  out.push(Number(z));
  return Buffer.from(out);
}

/**
 * A record body whose top-level `long` field (one of them, drawn) holds a value beyond 2^53: valid
 * Avro from a Java producer, not exactly representable as a JS number. `value` is the record with
 * that field at 0 (one byte on the wire), spliced where the fields before it end.
 */
export function hugeLongArbitrary(
  recordSchema: { fields: Array<{ name: string; type: unknown }> },
  value: fc.Arbitrary<Record<string, unknown>>,
): fc.Arbitrary<Buffer> {
  const isLong = (t: unknown) =>
    t === 'long' || (typeof t === 'object' && t !== null && (t as { type?: unknown }).type === 'long');
  const longs = recordSchema.fields.map((f, i) => (isLong(f.type) ? i : -1)).filter((i) => i >= 0);
  if (longs.length === 0) throw new Error('the record has no long field');
  const full = avro.Type.forSchema(recordSchema as avro.Schema);
  return fc
    .tuple(value, fc.constantFrom(...longs), fc.bigInt({ min: 2n ** 53n, max: 2n ** 63n - 1n }), fc.boolean())
    .map(([v, at, big, negative]) => {
      const field = recordSchema.fields[at] as { name: string };
      const zeroed = { ...v, [field.name]: 0 };
      const prefix = avro.Type.forSchema({
        type: 'record',
        name: 'Prefix',
        fields: recordSchema.fields.slice(0, at),
      } as avro.Schema);
      const cut = prefix.toBuffer(zeroed).length;
      const body = full.toBuffer(zeroed);
      return Buffer.concat([body.subarray(0, cut), varint(negative ? -big : big), body.subarray(cut + 1)]);
    });
}

/** How a framed record can go wrong on the wire. */
export type Malformation =
  | 'huge-long'
  | 'truncated'
  | 'bit-flipped'
  | 'trailing-bytes'
  | 'wrong-magic-byte'
  | 'unknown-schema-id'
  | 'foreign-schema-id'
  | 'random-bytes'
  | 'empty'
  | 'null';

/**
 * A framed value (`schemaId` + the Avro body) made malformed one way: `foreignId` is a schema the
 * registry knows that is not the reader's record; `unknownId` one it does not know.
 */
export function malformedArbitrary(
  encoded: fc.Arbitrary<Buffer>,
  ids: { schemaId: number; foreignId: number; unknownId: number },
  hugeLong?: fc.Arbitrary<Buffer>,
): fc.Arbitrary<{ how: Malformation; value: Buffer | null }> {
  const framed = encoded.map((body) => frame(ids.schemaId, body));
  return fc.oneof(
    ...(hugeLong === undefined
      ? []
      : [hugeLong.map((body) => ({ how: 'huge-long' as const, value: frame(ids.schemaId, body) }))]),
    fc
      .tuple(framed, fc.nat())
      .map(([v, n]) => ({ how: 'truncated' as const, value: v.subarray(0, 5 + (n % Math.max(1, v.length - 5))) })),
    fc.tuple(framed, fc.nat(), fc.integer({ min: 0, max: 7 })).map(([v, n, bit]) => {
      const out = Buffer.from(v);
      const at = 5 + (n % Math.max(1, out.length - 5));
      if (at < out.length) out[at] = (out[at] as number) ^ (1 << bit);
      return { how: 'bit-flipped' as const, value: out };
    }),
    fc
      .tuple(framed, fc.uint8Array({ minLength: 1, maxLength: 16 }))
      .map(([v, extra]) => ({ how: 'trailing-bytes' as const, value: Buffer.concat([v, Buffer.from(extra)]) })),
    fc.tuple(framed, fc.integer({ min: 1, max: 255 })).map(([v, magic]) => {
      const out = Buffer.from(v);
      out[0] = magic;
      return { how: 'wrong-magic-byte' as const, value: out };
    }),
    encoded.map((body) => ({ how: 'unknown-schema-id' as const, value: frame(ids.unknownId, body) })),
    encoded.map((body) => ({ how: 'foreign-schema-id' as const, value: frame(ids.foreignId, body) })),
    fc.uint8Array({ maxLength: 64 }).map((a) => ({ how: 'random-bytes' as const, value: Buffer.from(a) })),
    fc.constant({ how: 'empty' as const, value: Buffer.alloc(0) }),
    fc.constant({ how: 'null' as const, value: null }),
  );
}
