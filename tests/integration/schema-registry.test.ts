// Schema contracts against the real registry: BACKWARD compatibility enforced, unknown ids are poison.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { avroType, schemaText } from '../../schemas/index.ts';
import { AvroDecoder, createRegistry, frame, registerSchema } from '../../platform/schema-registry.ts';
import { PoisonRecordError } from '../../platform/errors.ts';
import { valueSubject } from '../../topics/topics.ts';
import { createNamespace, type TestNamespace } from '../helpers/namespace.ts';
import { sampleTransaction } from '../../domain/transaction.fixture.ts';

let ns: TestNamespace;
beforeAll(async () => {
  ns = await createNamespace();
});
afterAll(async () => {
  await ns.cleanup();
});

describe('schema registry contracts', () => {
  it('registers the Transaction schema idempotently under <topic>-value', async () => {
    const registry = createRegistry(ns.cfg);
    const subject = valueSubject(ns.cfg.topicNamespace, 'transactions');
    const a = await registerSchema(registry, ns.cfg.registryUrl, subject, schemaText('transaction'));
    const b = await registerSchema(registry, ns.cfg.registryUrl, subject, schemaText('transaction'));
    expect(a).toBe(b);
    const res = await fetch(`${ns.cfg.registryUrl}/config/${encodeURIComponent(subject)}`);
    expect(JSON.stringify(await res.json())).toContain('BACKWARD');
  });

  it('registers a subject that an earlier attempt left without a compatibility level (registered, then timed out before its PUT)', async () => {
    const registry = createRegistry(ns.cfg);
    // A subject of its own (the namespace's are registered already), deleted at the end.
    const subject = `${ns.cfg.topicNamespace}partial-attempt-value`;
    const url = `${ns.cfg.registryUrl}/subjects/${encodeURIComponent(subject)}`;
    const config = async () =>
      JSON.stringify(await (await fetch(`${ns.cfg.registryUrl}/config/${encodeURIComponent(subject)}`)).json());
    // What the first attempt left: the schema registered, no level (the registry reports NONE).
    const res = await fetch(`${url}/versions`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
      body: JSON.stringify({ schema: schemaText('alert') }),
    });
    expect(res.ok).toBe(true);
    const { id: left } = (await res.json()) as { id: number };
    try {
      expect(await config()).toContain('NONE');
      expect(await registerSchema(registry, ns.cfg.registryUrl, subject, schemaText('alert'))).toBe(left);
      expect(await config()).toContain('BACKWARD');
    } finally {
      await fetch(url, { method: 'DELETE' });
      await fetch(`${url}?permanent=true`, { method: 'DELETE' });
    }
  });

  it('rejects an incompatible change (a new required field without default)', async () => {
    const registry = createRegistry(ns.cfg);
    const subject = valueSubject(ns.cfg.topicNamespace, 'transactions');
    const schema = JSON.parse(schemaText('transaction')) as { fields: unknown[] };
    schema.fields.push({ name: 'risk_flag', type: 'string' });
    await expect(registerSchema(registry, ns.cfg.registryUrl, subject, JSON.stringify(schema))).rejects.toThrow();
  });

  it('accepts a compatible change (a new optional field) and decodes it into the current reader schema', async () => {
    const registry = createRegistry(ns.cfg);
    const subject = valueSubject(ns.cfg.topicNamespace, 'transactions');
    const schema = JSON.parse(schemaText('transaction')) as { fields: unknown[] };
    schema.fields.push({ name: 'loyalty_tier', type: ['null', 'string'], default: null });
    const id = await registerSchema(registry, ns.cfg.registryUrl, subject, JSON.stringify(schema));
    const writer = (await import('avsc')).default.Type.forSchema(schema as never);
    const tx = { ...sampleTransaction({ transaction_id: 'tx-new', type: 'CAPTURE' }), loyalty_tier: 'gold' };
    const decoder = new AvroDecoder<{ transaction_id: string }>(registry, avroType('transaction'));
    const value = frame(id, writer.toBuffer(tx));
    await decoder.warmValues([value]);
    expect(decoder.decode(value).transaction_id).toBe('tx-new');
  });

  it('treats an unknown schema id as a poison record, not an outage', async () => {
    const decoder = new AvroDecoder(createRegistry(ns.cfg), avroType('transaction'));
    const value = frame(2_000_000_001, Buffer.from([1, 2, 3]));
    await decoder.warmValues([value]);
    expect(() => decoder.decode(value)).toThrow(PoisonRecordError);
    expect(() => decoder.decode(value)).toThrow(/not registered/);
  });
});

describe('a registry that lost its state', () => {
  it('is an outage, not a stream of unknown schema ids', async () => {
    const decoder = new AvroDecoder(createRegistry(ns.cfg), avroType('transaction'), {
      registryUrl: ns.cfg.registryUrl,
      knownId: 2_000_000_002,
    });
    const value = frame(2_000_000_003, Buffer.from([1, 2, 3]));
    await expect(decoder.warmValues([value])).rejects.toThrow(/lost its state/);
  });
});
