/** The Avro contracts, loaded from the .avsc files beside this module. */
import { readFileSync } from 'node:fs';
import avro from 'avsc';

export type SchemaName = 'transaction' | 'settlement' | 'alert' | 'dead-letter' | 'recon-exception' | 'ops-alert';

const cache = new Map<SchemaName, string>();

/** The schema's JSON text exactly as kept in schemas/<name>.avsc. */
export function schemaText(name: SchemaName): string {
  let text = cache.get(name);
  if (text === undefined) {
    text = readFileSync(new URL(`./${name}.avsc`, import.meta.url), 'utf8');
    cache.set(name, text);
  }
  return text;
}

/** Avro `long` as a JS bigint: exact over the whole 64-bit range (sums of minor units can pass 2^53). */
const BIGINT_LONG = avro.types.LongType.__with({
  fromBuffer: (buf: Buffer) => buf.readBigInt64LE(),
  toBuffer: (n: bigint) => {
    const buf = Buffer.alloc(8);
    buf.writeBigInt64LE(n);
    return buf;
  },
  fromJSON: (v: number | string) => BigInt(v),
  toJSON: (n: bigint) => Number(n),
  isValid: (n: unknown) => typeof n === 'bigint' && n >= -(2n ** 63n) && n < 2n ** 63n,
  compare: (a: bigint, b: bigint) => (a === b ? 0 : a < b ? -1 : 1),
});

/**
 * An avsc Type for the schema (timestamp-millis stays a number of ms, so it round-trips exactly).
 * With `bigintLongs`, every plain `long` is a bigint (writers of sums that may pass 2^53); longs with
 * a logical type (timestamps) stay numbers.
 */
export function avroType(name: SchemaName, opts: { bigintLongs?: boolean } = {}): avro.Type {
  const schema = JSON.parse(schemaText(name)) as avro.Schema;
  return opts.bigintLongs ? avro.Type.forSchema(schema, { registry: { long: BIGINT_LONG } }) : avro.Type.forSchema(schema);
}
