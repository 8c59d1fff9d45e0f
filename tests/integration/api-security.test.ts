// Issue 16, the dashboard API's side, against the real MariaDB: rate limits that a forged or random
// key cannot exploit, alert streams that end when their key is revoked, stream caps and bounded
// resumes, HTTP timeouts on a real socket, audited key changes with client addresses, safe key names.
import type { FastifyInstance } from 'fastify';
import type { RowDataPacket } from 'mysql2/promise';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runApikeyList, runApikeyRevoke } from '../../cli/apikey.actions.ts';
import type { TxmonConfig } from '../../config/config.ts';
import { buildApp } from '../../dashboard-api/app.ts';
import { createApiKey, newKey, type Role } from '../../dashboard-api/auth/api-keys.ts';
import { encodeCursor } from '../../dashboard-api/cursor.ts';
import { createApiMetrics } from '../../dashboard-api/plugins/metrics.ts';
import { registerModel, type NewModel } from '../../models/model-registry.ts';
import { InputError } from '../../platform/errors.ts';
import { createPool, type Pool } from '../../platform/mysql.ts';
import { insertDecidedAlerts } from '../helpers/decided.ts';
import { createNamespace, testLogger, type TestNamespace } from '../helpers/namespace.ts';

let ns: TestNamespace;
let pool: Pool;
const apps: FastifyInstance[] = [];

async function makeApp(
  guard: Partial<TxmonConfig['apiGuard']> = {},
  opts: { perKeyPerMinute?: number; keyCacheMs?: number } = {},
): Promise<FastifyInstance> {
  const app = await buildApp(
    { pool, logger: testLogger, metrics: createApiMetrics(null), probes: [] },
    {
      rateLimitPerMinute: opts.perKeyPerMinute ?? 10_000,
      keyCacheMs: opts.keyCacheMs ?? 0,
      guard: { ...ns.cfg.apiGuard, ...guard },
    },
  );
  apps.push(app);
  await app.ready();
  return app;
}

const key = async (name: string, role: Role = 'analyst') => createApiKey(pool, name, role, 'test');
const bearer = (k: string) => ({ authorization: `Bearer ${k}` });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let alertSeq = 0;
/** Raises alerts the way the sink stores them (a decided transaction and an alert row), raised at `createdAt`. */
async function raise(createdAt: Date, n = 1): Promise<string[]> {
  const ids = Array.from({ length: n }, () => `${(++alertSeq).toString(16).padStart(8, '0')}${'f'.repeat(24)}`);
  await insertDecidedAlerts(
    pool,
    ids.map((id) => ({
      alertId: id,
      transactionId: `tx-sec-${id}`,
      accountId: 'acc-sec',
      eventTime: createdAt,
      createdAt,
      summary: 'sec',
    })),
  );
  return ids;
}

/** An alert stream read in the background. */
async function openStream(address: string, k: string, headers: Record<string, string> = {}, query = '') {
  const controller = new AbortController();
  const res = await fetch(`${address}/api/v1/alerts/stream${query}`, {
    headers: { ...bearer(k), ...headers },
    signal: controller.signal,
  });
  const state = { text: '', closed: false, status: res.status };
  if (res.status === 200) {
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    void (async () => {
      for (;;) {
        const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
        if (done) {
          state.closed = true;
          return;
        }
        state.text += new TextDecoder().decode(value);
      }
    })();
  } else {
    state.text = await res.text();
    state.closed = true;
  }
  const until = async (ok: () => boolean, what: string, ms = 10_000) => {
    const stop = Date.now() + ms;
    while (!ok() && Date.now() < stop) await sleep(25);
    expect(ok(), what).toBe(true);
  };
  const ids = () => [...state.text.matchAll(/"alert_id":"([0-9a-f]{32})"/g)].map((m) => m[1] as string);
  if (res.status === 200) await until(() => state.text.includes(': txmon alerts since'), 'the stream opened');
  return { state, until, ids, close: () => controller.abort() };
}

beforeAll(async () => {
  ns = await createNamespace();
  pool = createPool(ns.cfg);
}, 120_000);

afterAll(async () => {
  for (const app of apps) await app.close().catch(() => {});
  await pool?.end();
  await ns?.cleanup();
});

describe('rate limits', () => {
  it('random key-shaped keys from one address: 401 up to the failure budget, then 429 without a lookup', async () => {
    const app = await makeApp({ authFailuresPerMinute: 20 });
    const codes: number[] = [];
    for (let i = 0; i < 60; i++)
      codes.push(
        (await app.inject({ url: '/api/v1/alerts', headers: bearer(newKey().key), remoteAddress: '10.0.0.66' })).statusCode,
      );
    expect(codes.slice(0, 20)).toEqual(Array(20).fill(401));
    expect(codes.slice(20)).toEqual(Array(40).fill(429));
    // Past the budget even a good key from that address is refused before any lookup (it was never
    // verified there); the same key from another address is served.
    const good = await key('rl-good');
    const refused = await app.inject({ url: '/api/v1/alerts', headers: bearer(good.key), remoteAddress: '10.0.0.66' });
    expect(refused.statusCode).toBe(429);
    expect(refused.headers['retry-after']).toMatch(/^\d+$/);
    expect(refused.json().detail).toMatch(/too many failed API key checks/);
    expect((await app.inject({ url: '/api/v1/alerts', headers: bearer(good.key), remoteAddress: '10.0.0.7' })).statusCode).toBe(
      200,
    );
  });

  it("forged secrets with a victim's key id do not lock the victim out", async () => {
    const app = await makeApp({ authFailuresPerMinute: 10 }, { perKeyPerMinute: 50 });
    const victim = await key('victim');
    const forged = () => `txk_${victim.keyId}_${newKey().key.slice(-43)}`;
    const attacker: number[] = [];
    for (let i = 0; i < 200; i++)
      attacker.push(
        (await app.inject({ url: '/api/v1/alerts', headers: bearer(forged()), remoteAddress: '10.0.0.66' })).statusCode,
      );
    expect(attacker.filter((c) => c === 401)).toHaveLength(10);
    expect(attacker.filter((c) => c === 429)).toHaveLength(190);
    const victimCodes: number[] = [];
    for (let i = 0; i < 50; i++)
      victimCodes.push(
        (await app.inject({ url: '/api/v1/alerts', headers: bearer(victim.key), remoteAddress: '10.0.0.7' })).statusCode,
      );
    expect(victimCodes).toEqual(Array(50).fill(200));
  });

  it('a verified key has its own allowance, however the header is spelled; other keys on the same address keep theirs', async () => {
    const app = await makeApp({}, { perKeyPerMinute: 3 });
    const a = await key('rl-a');
    const b = await key('rl-b');
    const spellings = [
      bearer(a.key),
      { authorization: `bearer  ${a.key}` },
      { 'x-api-key': a.key },
      { authorization: `BEARER ${a.key}` },
    ];
    const codes: number[] = [];
    for (const headers of spellings) codes.push((await app.inject({ url: '/api/v1/alerts', headers })).statusCode);
    expect(codes).toEqual([200, 200, 200, 429]);
    const other = await app.inject({ url: '/api/v1/alerts', headers: bearer(b.key) });
    expect(other.statusCode).toBe(200);
  });

  it('every request counts against its client address first, public routes included', async () => {
    const app = await makeApp({ rateLimitPerAddressPerMinute: 5 });
    const codes: number[] = [];
    for (let i = 0; i < 7; i++) codes.push((await app.inject({ url: '/healthz', remoteAddress: '10.0.0.66' })).statusCode);
    expect(codes).toEqual([200, 200, 200, 200, 200, 429, 429]);
    expect((await app.inject({ url: '/healthz', remoteAddress: '10.0.0.7' })).statusCode).toBe(200);
  });
});

describe('alert streams', () => {
  it('a revoked key loses its stream: a last `event: end` within the key cache period, no alert after', async () => {
    const app = await makeApp({}, { keyCacheMs: 1_000 });
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    const k = await key('stream-revoked');
    const s = await openStream(address, k.key);
    const [first] = await raise(new Date(Date.now() + 500));
    await s.until(() => s.ids().includes(first as string), 'an alert before the revocation');
    const revokedAt = Date.now();
    await runApikeyRevoke(ns.cfg, k.keyId, { by: 'test' }, () => {});
    await s.until(() => s.state.closed, 'the stream ended', 5_000);
    // Cache period (1 s) + a poll (1 s) + slack.
    expect(Date.now() - revokedAt).toBeLessThan(3_500);
    expect(s.state.text).toMatch(/event: end\ndata: \{"reason":"the API key was revoked"\}\n\n$/);
    await raise(new Date(Date.now() + 500));
    await sleep(1_500);
    expect(s.ids()).toEqual([first]);
  });

  it('a key whose role may no longer read alerts loses its stream too', async () => {
    const app = await makeApp({}, { keyCacheMs: 0 });
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    const k = await key('stream-demoted');
    const s = await openStream(address, k.key);
    await pool.query("UPDATE api_keys SET role = 'sre' WHERE key_id = ?", [k.keyId]);
    await s.until(() => s.state.closed, 'the stream ended', 4_000);
    expect(s.state.text).toContain('event: end\ndata: {"reason":"role sre may no longer read alerts"}');
  });

  it('caps streams per key (429) and in all (503); polls no faster than once a second', async () => {
    const app = await makeApp({ streamsPerKey: 2, maxStreams: 3 });
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    const a = await key('cap-a');
    const b = await key('cap-b');
    const c = await key('cap-c');
    const a1 = await openStream(address, a.key);
    const a2 = await openStream(address, a.key);
    const a3 = await openStream(address, a.key);
    expect(a3.state.status).toBe(429);
    expect(a3.state.text).toMatch(/holds 2 alert streams already/);
    const b1 = await openStream(address, b.key);
    expect(b1.state.status).toBe(200);
    const c1 = await openStream(address, c.key);
    expect(c1.state.status).toBe(503);
    // A stream closed frees its place.
    a1.close();
    await sleep(300);
    const a4 = await openStream(address, a.key);
    expect(a4.state.status).toBe(200);
    const fast = await app.inject({ url: '/api/v1/alerts/stream?poll_ms=100', headers: bearer(b.key) });
    expect(fast.statusCode).toBe(400);
    expect(fast.json().detail).toMatch(/poll_ms must be >= 1000/);
    for (const s of [a2, b1, a4]) s.close();
  });

  it('a resume reaches back at most TXMON_API_STREAM_RESUME_MAX_MS, and says so', async () => {
    const app = await makeApp({ streamResumeMaxMs: 5 * 60_000 });
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    const k = await key('resume');
    const [old] = await raise(new Date(Date.now() - 60 * 60_000));
    const [recent] = await raise(new Date(Date.now() - 60_000));
    const s = await openStream(address, k.key, { 'last-event-id': encodeCursor([0, '']) });
    await s.until(() => s.ids().includes(recent as string), 'the alert within the bound');
    expect(s.ids()).not.toContain(old);
    expect(s.state.text).toMatch(
      /event: resume-clamped\ndata: \{"requested":"1970-01-01T00:00:00.000Z","since":"[^"]+","detail":"a resume reaches back at most 300000 ms/,
    );
    s.close();
  });
});

describe('HTTP timeouts and the connection cap', () => {
  /** A raw socket: when it closed, and what the server sent. */
  function rawSocket(port: number) {
    const sock: Socket = connect(port, '127.0.0.1');
    const state = { closedAt: 0, data: '' };
    sock.on('data', (d) => (state.data += d.toString()));
    sock.on('close', () => (state.closedAt = Date.now()));
    sock.on('error', () => {});
    return { sock, state };
  }

  it('a slowloris client (a header line a second) is cut off within the headers timeout', async () => {
    const app = await makeApp({ headersTimeoutMs: 2_000, requestTimeoutMs: 5_000 });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const port = (app.server.address() as { port: number }).port;
    const { sock, state } = rawSocket(port);
    const started = Date.now();
    sock.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
    for (let i = 0; i < 10 && state.closedAt === 0; i++) {
      await sleep(1_000);
      if (!sock.destroyed) sock.write(`X-Slow-${i}: y\r\n`);
    }
    expect(state.closedAt).toBeGreaterThan(0);
    // headersTimeout (2 s) + the check interval (0.5 s) + slack.
    expect(state.closedAt - started).toBeLessThan(3_500);
    expect(state.data).toMatch(/^HTTP\/1\.1 408/);
    sock.destroy();
  }, 20_000);

  it('an alert stream outlives the request timeout (it applies to receiving the request only)', async () => {
    const app = await makeApp({ headersTimeoutMs: 1_000, requestTimeoutMs: 1_000, idleTimeoutMs: 3_000 });
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    const k = await key('long-stream');
    const s = await openStream(address, k.key);
    // Past the request timeout and past the idle timeout (heartbeats keep it busy).
    await sleep(4_000);
    const [later] = await raise(new Date(Date.now() + 200));
    await s.until(() => s.ids().includes(later as string), 'an alert 4 s into the stream');
    expect(s.state.closed).toBe(false);
    expect(s.state.text).toContain(': keep-alive');
    s.close();
  }, 20_000);

  it('refuses connections beyond the cap at once', async () => {
    const app = await makeApp({ maxConnections: 3 });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const port = (app.server.address() as { port: number }).port;
    const held = [rawSocket(port), rawSocket(port), rawSocket(port)];
    await sleep(300);
    const extra = rawSocket(port);
    await sleep(500);
    expect(extra.state.closedAt).toBeGreaterThan(0);
    expect(held.every((h) => h.state.closedAt === 0)).toBe(true);
    for (const h of [...held, extra]) h.sock.destroy();
  });
});

describe('audit and key names', () => {
  it('key creation and revocation are audited with actor, key id and time; API writes with the client address', async () => {
    const k = await createApiKey(pool, 'audited', 'analyst', 'alice');
    await runApikeyRevoke(ns.cfg, k.keyId, { by: 'bob' }, () => {});
    const [rows] = await pool.query<RowDataPacket[]>(
      'SELECT actor, client_addr, action, subject, detail, at FROM audit_log WHERE subject = ? ORDER BY id',
      [`apikey:${k.keyId}`],
    );
    expect(rows.map((r) => [r.actor, r.action, r.client_addr])).toEqual([
      ['alice', 'apikey.create', null],
      ['bob', 'apikey.revoke', null],
    ]);
    const detail: unknown = rows[0]?.detail;
    expect(typeof detail === 'string' ? JSON.parse(detail) : detail).toEqual({ name: 'audited', role: 'analyst' });
    expect(rows.every((r) => r.at instanceof Date)).toBe(true);

    const app = await makeApp();
    const analyst = await key('triager');
    const [alertId] = await raise(new Date());
    const res = await app.inject({
      method: 'POST',
      url: `/api/v1/alerts/${alertId}/acknowledge`,
      headers: bearer(analyst.key),
      remoteAddress: '10.1.2.3',
    });
    expect(res.statusCode).toBe(200);
    const [[entry]] = await pool.query<RowDataPacket[]>('SELECT actor, client_addr FROM audit_log WHERE subject = ?', [
      `alert:${alertId}`,
    ]);
    expect(entry).toMatchObject({ actor: `triager (key ${analyst.keyId})`, client_addr: '10.1.2.3' });
  });

  it('recon resolve and model promote through the API record the client address too', async () => {
    const app = await makeApp();
    const admin = await key('auditor', 'admin');
    await pool.query(
      `INSERT INTO recon_results (reference, status, reason, expected_minor, settled_minor, currency, transactions, settlement_lines,
         business_date, deadline, revision, updated_at)
       VALUES ('ref-sec-1', 'AMOUNT_MISMATCH', 'test', 100, 90, 'EUR', 1, 1, CURDATE(), NOW(3), 1, NOW(3))`,
    );
    const resolved = await app.inject({
      method: 'POST',
      url: '/api/v1/reconciliation/exceptions/ref-sec-1/accept',
      headers: bearer(admin.key),
      payload: { note: 'fee' },
      remoteAddress: '10.9.9.9',
    });
    expect(resolved.statusCode).toBe(200);
    // Only what the registry stores matters here, not a trained forest.
    const model = {
      version: 'm-sec-1',
      trainedFrom: new Date(0),
      trainedTo: new Date(),
      trainingRows: 1,
      params: {},
      features: [],
      threshold: 0.5,
      baseline: {},
      metrics: null,
      checksum: '0'.repeat(64),
      forest: '',
      // A promotion needs a card; its content does not matter here.
      card: { format: 1 },
    } as unknown as NewModel;
    await registerModel(pool, model, 'test');
    const promoted = await app.inject({
      method: 'POST',
      url: '/api/v1/models/m-sec-1/promote',
      headers: bearer(admin.key),
      payload: { reason: 'test' },
      remoteAddress: '10.8.8.8',
    });
    expect(promoted.statusCode).toBe(200);
    const [rows] = await pool.query<RowDataPacket[]>(
      "SELECT action, client_addr FROM audit_log WHERE subject IN ('recon:ref-sec-1', 'm-sec-1') ORDER BY id",
    );
    expect(rows.map((r) => [r.action, r.client_addr])).toEqual([
      ['recon.accepted', '10.9.9.9'],
      ['model.train', null],
      ['model.promote', '10.8.8.8'],
    ]);
  });

  it('key names with control, format or bidi characters are refused; apikey list escapes names stored before', async () => {
    for (const name of ['eve\nalice (key 0123456789ab)', 'eve\u202e', 'e\u001b[2Kve', 'e\u200bve'])
      await expect(createApiKey(pool, name, 'analyst', 'test')).rejects.toBeInstanceOf(InputError);
    const [[{ n }]] = (await pool.query<RowDataPacket[]>(
      "SELECT COUNT(*) AS n FROM api_keys WHERE name LIKE 'e%ve%'",
    )) as unknown as [[{ n: number }]];
    expect(Number(n)).toBe(0);
    // A name from before the check, straight into the table.
    await pool.query(
      "INSERT INTO api_keys (key_id, name, role, secret_sha256, created_at, created_by) VALUES ('0000000000aa', ?, 'analyst', ?, NOW(3), 'old')",
      ['mallory\n0000000000bb  admin   root\u202e', '0'.repeat(64)],
    );
    const lines: string[] = [];
    await runApikeyList(ns.cfg, (l) => lines.push(l));
    const line = lines.find((l) => l.startsWith('0000000000aa')) as string;
    expect(line).toContain('mallory\\u{a}0000000000bb  admin   root\\u{202e}');
    expect(lines.filter((l) => /[\p{Cc}\p{Cf}]/u.test(l))).toEqual([]);
  });
});
