// Registry credentials go on every request txmon makes to the registry: the library's own calls
// and txmon's direct ones (compatibility config, AvroDecoder's health check). A loopback HTTP
// server stands in for the registry and records the Authorization header of each request.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config/config.ts';
import { avroType, schemaText } from '../schemas/index.ts';
import { AvroDecoder, createRegistry, frame, registerSchema, registryAuthHeaders } from './schema-registry.ts';

const seen: Array<{ method: string; url: string; auth: string | undefined }> = [];
let url = '';
const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  seen.push({ method: req.method ?? '', url: req.url ?? '', auth: req.headers.authorization });
  req.resume();
  req.on('end', () => {
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/vnd.schemaregistry.v1+json' });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'GET' && req.url?.startsWith('/config/')) return json(404, { error_code: 40401, message: 'no config' });
    if (req.method === 'POST' && req.url?.endsWith('/versions')) return json(200, { id: 7 });
    if (req.method === 'PUT' && req.url?.startsWith('/config/')) return json(200, { compatibility: 'BACKWARD' });
    if (req.method === 'GET' && req.url === '/schemas/ids/7') return json(200, { schema: schemaText('transaction') });
    if (req.method === 'GET' && req.url === '/schemas/ids/99') return json(404, { error_code: 40403, message: 'not found' });
    json(500, { message: `unexpected ${req.method} ${req.url}` });
  });
});

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('registry credentials', () => {
  it.each([
    [
      'basic',
      { TXMON_REGISTRY_USERNAME: 'svc', TXMON_REGISTRY_PASSWORD: 'pw:1' },
      `Basic ${Buffer.from('svc:pw:1').toString('base64')}`,
    ],
    ['bearer', { TXMON_REGISTRY_TOKEN: 'tok-123' }, 'Bearer tok-123'],
  ])('%s: on registration, on the compatibility call and on the decoder’s health check', async (_, env, header) => {
    seen.length = 0;
    const cfg = loadConfig({ TXMON_REGISTRY_URL: url, ...env });
    expect(registryAuthHeaders(cfg)).toEqual({ authorization: header });
    const registry = createRegistry(cfg);
    expect(await registerSchema(registry, cfg.registryUrl, 'tls-value', schemaText('transaction'))).toBe(7);
    // An unknown id: the decoder asks the registry whether it still knows its own schema.
    const decoder = new AvroDecoder(registry, avroType('transaction'), { registryUrl: cfg.registryUrl, knownId: 7 });
    await decoder.warmValues([frame(99, Buffer.alloc(1))]);
    const calls = seen.map((s) => `${s.method} ${s.url}`);
    expect(calls).toEqual(
      expect.arrayContaining([
        'POST /subjects/tls-value/versions',
        'PUT /config/tls-value',
        'GET /schemas/ids/99',
        'GET /schemas/ids/7',
      ]),
    );
    expect(seen.every((s) => s.auth === header)).toBe(true);
    // One compatibility PUT, txmon's own: the library's first-registration update is off.
    expect(calls.filter((c) => c === 'PUT /config/tls-value')).toHaveLength(1);
  });

  it('sends no Authorization header without credentials', async () => {
    seen.length = 0;
    const cfg = loadConfig({ TXMON_REGISTRY_URL: url });
    await registerSchema(createRegistry(cfg), cfg.registryUrl, 'plain-value', schemaText('transaction'));
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((s) => s.auth === undefined)).toBe(true);
  });
});
