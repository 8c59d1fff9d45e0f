// A registry request that is never answered must not hang its caller: the reconcile end-to-end test
// once spent its whole 180 s in a namespace's schema registration, whose compatibility PUT the
// registry never answered. A loopback HTTP server stands in for the registry and leaves chosen
// requests unanswered.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../config/config.ts';
import { avroType, schemaText } from '../schemas/index.ts';
import { DependencyError } from './errors.ts';
import { AvroDecoder, createRegistry, frame, registerSchema } from './schema-registry.ts';

/** How many requests of each kind ("POST", "PUT") the server leaves unanswered before it answers. */
const stall: Record<string, number> = {};
const seen: string[] = [];
const unanswered: ServerResponse[] = [];
let url = '';
const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  const method = req.method ?? '';
  seen.push(`${method} ${req.url}`);
  req.resume();
  req.on('end', () => {
    if ((stall[method] ?? 0) > 0) {
      stall[method]!--;
      unanswered.push(res);
      return;
    }
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/vnd.schemaregistry.v1+json' });
      res.end(JSON.stringify(body));
    };
    if (method === 'GET' && req.url?.startsWith('/config/')) return json(404, { error_code: 40401, message: 'no config' });
    if (method === 'POST' && req.url?.endsWith('/versions')) return json(200, { id: 7 });
    if (method === 'PUT' && req.url?.startsWith('/config/')) return json(200, { compatibility: 'BACKWARD' });
    if (method === 'GET' && req.url === '/schemas/ids/7') return json(200, { schema: schemaText('transaction') });
    json(500, { message: `unexpected ${method} ${req.url}` });
  });
});

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
beforeEach(() => {
  seen.length = 0;
  for (const k of Object.keys(stall)) delete stall[k];
});
afterAll(async () => {
  for (const res of unanswered) res.destroy();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const registry = () => createRegistry(loadConfig({ TXMON_REGISTRY_URL: url }), { requestTimeoutMs: 300 });

describe('registerSchema against a registry that leaves a request unanswered', () => {
  it('gives up on the unanswered compatibility PUT after its deadline and registers again', async () => {
    stall.PUT = 1;
    const started = Date.now();
    expect(await registerSchema(registry(), url, 's-value', schemaText('transaction'))).toBe(7);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(seen.filter((s) => s === 'PUT /config/s-value')).toHaveLength(2);
  });

  it('gives up on an unanswered registration the same way', async () => {
    stall.POST = 1;
    expect(await registerSchema(registry(), url, 'p-value', schemaText('transaction'))).toBe(7);
    expect(seen.filter((s) => s === 'POST /subjects/p-value/versions')).toHaveLength(2);
  });

  it('fails as a retriable registry outage, naming the step, when no attempt is answered', async () => {
    stall.PUT = 3;
    const err = await registerSchema(registry(), url, 'x-value', schemaText('transaction')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DependencyError);
    expect((err as DependencyError).retriable).toBe(true);
    expect((err as Error).message).toMatch(/setting BACKWARD compatibility on x-value failed: no answer within 300 ms/);
    expect(seen.filter((s) => s === 'PUT /config/x-value')).toHaveLength(3);
  });
});

describe('AvroDecoder against a registry that leaves a schema lookup unanswered', () => {
  it('fails the warm-up as a registry outage (the batch is retried) instead of holding the batch for good', async () => {
    stall.GET = 1;
    const decoder = new AvroDecoder(registry(), avroType('transaction'));
    const err = await decoder.warmValues([frame(7, Buffer.alloc(1))]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DependencyError);
    expect((err as Error).message).toMatch(/cannot fetch schema id 7/);
    // The next attempt is answered.
    await decoder.warmValues([frame(7, Buffer.alloc(1))]);
    expect(seen.filter((s) => s === 'GET /schemas/ids/7')).toHaveLength(2);
  });
});
