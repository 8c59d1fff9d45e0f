import { describe, expect, it } from 'vitest';
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { avroType } from '../schemas/index.ts';
import { PoisonRecordError } from './errors.ts';
import { AvroDecoder, frame } from './registry.ts';

/** A registry that knows no schema and counts how often it is asked (unit test: no network). */
function unknownRegistry() {
  const calls: number[] = [];
  const registry = {
    getSchema: async (id: number) => {
      calls.push(id);
      throw Object.assign(new Error('Schema not found'), { status: 404 });
    },
  } as unknown as SchemaRegistry;
  return { registry, calls };
}

describe('AvroDecoder', () => {
  it('asks the registry about an unknown id once per batch, and again in the next batch', async () => {
    const { registry, calls } = unknownRegistry();
    const decoder = new AvroDecoder(registry, avroType('transaction'));
    const values = Array.from({ length: 5 }, () => frame(77, Buffer.from([1])));
    await decoder.warmValues(values);
    expect(calls).toEqual([77]);
    for (const v of values) expect(() => decoder.decode(v)).toThrow(PoisonRecordError);
    await decoder.warmValues(values);
    expect(calls).toEqual([77, 77]);
  });

  it('skips values without registry framing when warming', async () => {
    const { registry, calls } = unknownRegistry();
    const decoder = new AvroDecoder(registry, avroType('transaction'));
    await decoder.warmValues([Buffer.from([9, 9]), null]);
    expect(calls).toEqual([]);
    expect(() => decoder.decode(Buffer.from([9, 9]))).toThrow(/too short|magic byte/);
  });
});
