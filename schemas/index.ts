/** The Avro contracts, loaded from the .avsc files beside this module. */
import { readFileSync } from 'node:fs';
import avro from 'avsc';

export type SchemaName = 'transaction' | 'settlement' | 'alert' | 'dead-letter' | 'recon-exception';

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

/** An avsc Type for the schema (timestamp-millis stays a number of ms, so it round-trips exactly). */
export function avroType(name: SchemaName): avro.Type {
  return avro.Type.forSchema(JSON.parse(schemaText(name)) as avro.Schema);
}
