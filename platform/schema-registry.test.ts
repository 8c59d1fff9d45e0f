import { describe, expect, it, vi } from 'vitest';
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { sampleTransaction } from '../domain/transaction.fixture.ts';
import { avroType } from '../schemas/index.ts';
import { DependencyError, PoisonRecordError, isRetriable } from './errors.ts';
import { AvroDecoder, asRegistryFailure, frame, registerSchema } from './schema-registry.ts';

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
  it('asks about an unknown id once, and not again until the retry interval has passed', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'performance'] });
    try {
      const { registry, calls } = unknownRegistry();
      const decoder = new AvroDecoder(registry, avroType('transaction'), undefined, 10_000);
      const values = Array.from({ length: 5 }, () => frame(77, Buffer.from([1])));
      await decoder.warmValues(values);
      expect(calls).toEqual([77]);
      for (const v of values) expect(() => decoder.decode(v)).toThrow(/schema id 77 is not registered/);
      vi.advanceTimersByTime(9_999);
      await decoder.warmValues(values);
      expect(calls).toEqual([77]);
      expect(() => decoder.decode(values[0] as Buffer)).toThrow(/schema id 77 is not registered/);
      vi.advanceTimersByTime(1);
      await decoder.warmValues(values);
      expect(calls).toEqual([77, 77]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('remembers 10,000 unknown ids at most, forgetting the oldest first', async () => {
    const { registry, calls } = unknownRegistry();
    const decoder = new AvroDecoder(registry, avroType('transaction'), undefined, 60_000);
    const values = Array.from({ length: 10_001 }, (_, i) => frame(1_000 + i, Buffer.from([1])));
    await decoder.warmValues(values);
    expect(calls.length).toBe(10_001);
    calls.length = 0;
    // The second and the last are still known as unknown; the first was forgotten.
    await decoder.warmValues([values[1] as Buffer, values[10_000] as Buffer, values[0] as Buffer]);
    expect(calls).toEqual([1_000]);
  });

  it('asks again in every batch with a retry interval of 0', async () => {
    const { registry, calls } = unknownRegistry();
    const decoder = new AvroDecoder(registry, avroType('transaction'), undefined, 0);
    const values = Array.from({ length: 3 }, () => frame(77, Buffer.from([1])));
    await decoder.warmValues(values);
    await decoder.warmValues(values);
    expect(calls).toEqual([77, 77]);
    expect(() => decoder.decode(values[0] as Buffer)).toThrow(PoisonRecordError);
  });

  it('decodes an id registered after it was found unknown, once the retry interval has passed', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'performance'] });
    try {
      const type = avroType('transaction');
      let registered = false;
      const registry = {
        getSchema: async () => {
          if (!registered) throw Object.assign(new Error('Schema not found'), { status: 404 });
          return type;
        },
      } as unknown as SchemaRegistry;
      const decoder = new AvroDecoder<{ transaction_id: string }>(registry, type, undefined, 5_000);
      const value = frame(42, type.toBuffer(sampleTransaction({ transaction_id: 'tx-late-schema' })));
      await decoder.warmValues([value]);
      expect(() => decoder.decode(value)).toThrow(/not registered/);
      registered = true;
      await decoder.warmValues([value]);
      expect(() => decoder.decode(value)).toThrow(/not registered/);
      vi.advanceTimersByTime(5_000);
      await decoder.warmValues([value]);
      expect(decoder.decode(value).transaction_id).toBe('tx-late-schema');
    } finally {
      vi.useRealTimers();
    }
  });

  it('decodes a framed body in place, and refuses one cut short or followed by other bytes', async () => {
    const type = avroType('transaction');
    const registry = { getSchema: async () => type } as unknown as SchemaRegistry;
    const decoder = new AvroDecoder<{ transaction_id: string; amount_minor: number }>(registry, type);
    const body = type.toBuffer(sampleTransaction({ transaction_id: 'tx-in-place' }));
    const value = frame(7, body);
    await decoder.warmValues([value]);
    const tx = decoder.decode(value);
    expect(tx.transaction_id).toBe('tx-in-place');
    expect(tx).toEqual(type.fromBuffer(body));
    const cut = value.subarray(0, value.length - 3);
    expect(() => decoder.decode(cut)).toThrow(PoisonRecordError);
    expect(() => decoder.decode(cut)).toThrow(/schema id 7: truncated buffer/);
    const longer = Buffer.concat([value, Buffer.from([0, 1])]);
    expect(() => decoder.decode(longer)).toThrow(/schema id 7: trailing data/);
  });

  it('skips values without registry framing when warming', async () => {
    const { registry, calls } = unknownRegistry();
    const decoder = new AvroDecoder(registry, avroType('transaction'));
    await decoder.warmValues([Buffer.from([9, 9]), null]);
    expect(calls).toEqual([]);
    expect(() => decoder.decode(Buffer.from([9, 9]))).toThrow(/too short|magic byte/);
  });
});

describe('registerSchema', () => {
  /** A registry whose register() fails with the given answers in turn, then registers as id 42. */
  function failingRegistry(statuses: number[]) {
    let calls = 0;
    const registry = {
      register: async () => {
        const status = statuses[calls++];
        if (status !== undefined) throw Object.assign(new Error(`answered ${status}`), { name: 'ResponseError', status });
        return { id: 42 };
      },
    } as unknown as SchemaRegistry;
    return { registry, calls: () => calls };
  }

  it('treats a registry answering 5xx (Apicurio while its database restarts) as a dependency failure, retried', async () => {
    const { registry } = failingRegistry([500]);
    const err = await registerSchema(registry, 'http://127.0.0.1:1', 'subj-value', '"string"', { attempts: 1 }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DependencyError);
    expect(isRetriable(err)).toBe(true);
    expect((err as Error).message).toMatch(/registering subj-value failed: HTTP 500/);
    for (const status of [502, 503, 408, 429])
      expect(asRegistryFailure(Object.assign(new Error('x'), { status }), 's')).toBeInstanceOf(DependencyError);
  });

  it('leaves a refusal of the schema itself (409, 422, 401) as it is: not retried', async () => {
    for (const status of [409, 422, 401]) {
      const { registry, calls } = failingRegistry([status]);
      const err = await registerSchema(registry, 'http://127.0.0.1:1', 'subj-value', '"string"', { attempts: 3 }).catch(
        (e: unknown) => e,
      );
      expect(err).not.toBeInstanceOf(DependencyError);
      expect((err as { status: number }).status).toBe(status);
      expect(isRetriable(err)).toBe(false);
      expect(calls()).toBe(1);
    }
  });
});
