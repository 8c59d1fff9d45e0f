// Console sessions and the console's files (issue 20) against the real MariaDB: an API key exchanged
// for an HttpOnly, SameSite=Strict cookie; roles apply to the session as to the key; writes need the
// session's CSRF token and the server's own origin; sign-out, expiry and a revoked key end it; the
// page is served with a policy that allows no inline script.
import type { FastifyInstance } from 'fastify';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, revokeApiKey } from '../../dashboard-api/auth/api-keys.ts';
import { buildApp } from '../../dashboard-api/app.ts';
import { CONSOLE_CSP, loadConsole, type ConsoleAssets } from '../../dashboard-api/console.ts';
import { createApiMetrics } from '../../dashboard-api/plugins/metrics.ts';
import { dependencyProbes } from '../../dashboard-api/routes/health.ts';
import { createPool, type Pool } from '../../platform/mysql.ts';
import { createNamespace, testLogger, type TestNamespace } from '../helpers/namespace.ts';

let ns: TestNamespace;
let pool: Pool;
let app: FastifyInstance;
let assets: ConsoleAssets;
const keys = { analyst: '', sre: '', admin: '' };

async function makeApp(ttlMs: number): Promise<FastifyInstance> {
  const a = await buildApp(
    { pool, logger: testLogger, metrics: createApiMetrics(null), probes: dependencyProbes({ pool }) },
    {
      rateLimitPerMinute: 100_000,
      keyCacheMs: 0,
      guard: { ...ns.cfg.apiGuard, rateLimitPerAddressPerMinute: 1_000_000, authFailuresPerMinute: 1_000_000 },
      session: { ttlMs, secureCookie: false },
      console: assets,
    },
  );
  await a.ready();
  return a;
}

/** Signs in with `key`: the cookie to send back and the CSRF token. */
async function signIn(a: FastifyInstance, key: string): Promise<{ cookie: string; csrf: string; setCookie: string }> {
  const res = await a.inject({ method: 'POST', url: '/api/v1/session', payload: { key } });
  expect(res.statusCode, res.body).toBe(200);
  const setCookie = String(res.headers['set-cookie']);
  return { cookie: setCookie.split(';')[0] as string, csrf: res.json<{ csrf_token: string }>().csrf_token, setCookie };
}

beforeAll(async () => {
  ns = await createNamespace();
  pool = createPool(ns.cfg);
  for (const role of ['analyst', 'sre', 'admin'] as const)
    keys[role] = (await createApiKey(pool, `cs-${role}`, role, 'test')).key;
  assets = await loadConsole();
  app = await makeApp(60_000);
}, 120_000);

afterAll(async () => {
  await app?.close();
  await pool?.end();
  await ns?.cleanup();
});

describe('console sessions', () => {
  it('a key is exchanged for an HttpOnly, SameSite=Strict cookie with an expiry; only its hash is stored; the sign-in is audited', async () => {
    const { cookie, csrf, setCookie } = await signIn(app, keys.analyst);
    expect(setCookie).toMatch(/^txmon_session=txs_[A-Za-z0-9_-]{43}; Max-Age=60; Path=\/; HttpOnly; SameSite=Strict$/);
    expect(csrf).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const token = cookie.split('=')[1] as string;
    const [rows] = await pool.query<RowDataPacket[]>('SELECT token_sha256, key_id, expires_at FROM api_sessions');
    expect(rows.some((r) => String(r.token_sha256).includes(token))).toBe(false);
    expect(rows.length).toBeGreaterThan(0);

    const me = await app.inject({ method: 'GET', url: '/api/v1/session', headers: { cookie } });
    expect(me.statusCode, me.body).toBe(200);
    expect(me.json()).toMatchObject({ name: 'cs-analyst', role: 'analyst', csrf_token: csrf });
    expect(Date.parse(me.json<{ expires_at: string }>().expires_at) - Date.now()).toBeGreaterThan(50_000);

    const [[audited]] = await pool.query<RowDataPacket[]>(
      "SELECT actor FROM audit_log WHERE action = 'session.create' ORDER BY id DESC LIMIT 1",
    );
    expect(String(audited?.actor)).toMatch(/^cs-analyst \(key [0-9a-f]{12}\)$/);
  });

  it('the session carries its key’s role: an analyst reads alerts, an SRE is refused them and reads the pipeline health', async () => {
    const analyst = await signIn(app, keys.analyst);
    expect((await app.inject({ method: 'GET', url: '/api/v1/alerts', headers: { cookie: analyst.cookie } })).statusCode).toBe(
      200,
    );
    const sre = await signIn(app, keys.sre);
    const refused = await app.inject({ method: 'GET', url: '/api/v1/alerts', headers: { cookie: sre.cookie } });
    expect(refused.statusCode).toBe(403);
    expect(refused.json<{ detail: string }>().detail).toMatch(/role sre may not call this route/);
  });

  it('a write with a session needs its CSRF token and this server’s origin', async () => {
    const { cookie, csrf } = await signIn(app, keys.analyst);
    const url = `/api/v1/alerts/${'0'.repeat(32)}/notes`;
    const payload = { note: 'x' };
    const none = await app.inject({ method: 'POST', url, headers: { cookie }, payload });
    expect(none.statusCode).toBe(403);
    expect(none.json<{ detail: string }>().detail).toMatch(/X-CSRF-Token/);
    const wrong = await app.inject({
      method: 'POST',
      url,
      headers: { cookie, 'x-csrf-token': `${csrf.slice(0, -1)}${csrf.endsWith('A') ? 'B' : 'A'}` },
      payload,
    });
    expect(wrong.statusCode).toBe(403);
    const foreign = await app.inject({
      method: 'POST',
      url,
      headers: { cookie, 'x-csrf-token': csrf, origin: 'https://evil.example', host: 'localhost:80' },
      payload,
    });
    expect(foreign.statusCode).toBe(403);
    expect(foreign.json<{ detail: string }>().detail).toMatch(/own pages/);
    // Past the checks: the alert does not exist.
    const ok = await app.inject({
      method: 'POST',
      url,
      headers: { cookie, 'x-csrf-token': csrf, origin: 'http://localhost:80', host: 'localhost:80' },
      payload,
    });
    expect(ok.statusCode, ok.body).toBe(404);
    // Reads need no token.
    expect((await app.inject({ method: 'GET', url: '/api/v1/alerts', headers: { cookie } })).statusCode).toBe(200);
  });

  it('a bad key gets a clear 401; a string that is no key says what a key looks like', async () => {
    const bad = await app.inject({ method: 'POST', url: '/api/v1/session', payload: { key: `${keys.analyst.slice(0, -3)}xyz` } });
    expect(bad.statusCode).toBe(401);
    expect(bad.json<{ detail: string }>().detail).toBe('the API key is unknown or revoked');
    expect(bad.headers['set-cookie']).toBeUndefined();
    const junk = await app.inject({ method: 'POST', url: '/api/v1/session', payload: { key: 'hunter2' } });
    expect(junk.statusCode).toBe(401);
    expect(junk.json<{ detail: string }>().detail).toMatch(/not an API key/);
    const forged = await app.inject({
      method: 'GET',
      url: '/api/v1/alerts',
      headers: { cookie: `txmon_session=txs_${'A'.repeat(43)}` },
    });
    expect(forged.statusCode).toBe(401);
    expect(forged.json<{ detail: string }>().detail).toMatch(/session has ended/);
  });

  it('sign-out revokes the session in MySQL and clears the cookie; the old cookie no longer works', async () => {
    const { cookie, csrf } = await signIn(app, keys.admin);
    const out = await app.inject({ method: 'DELETE', url: '/api/v1/session', headers: { cookie, 'x-csrf-token': csrf } });
    expect(out.statusCode, out.body).toBe(204);
    expect(String(out.headers['set-cookie'])).toMatch(/^txmon_session=; Max-Age=0; Path=\/; HttpOnly; SameSite=Strict$/);
    const after = await app.inject({ method: 'GET', url: '/api/v1/models', headers: { cookie } });
    expect(after.statusCode).toBe(401);
    // Also for another API process that never cached it: the revocation is in MySQL.
    const other = await makeApp(60_000);
    try {
      expect((await other.inject({ method: 'GET', url: '/api/v1/models', headers: { cookie } })).statusCode).toBe(401);
    } finally {
      await other.close();
    }
    const [[ended]] = await pool.query<RowDataPacket[]>("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'session.end'");
    expect(Number(ended?.n)).toBeGreaterThanOrEqual(1);
  });

  it('a session ends at its expiry, and with its key when the key is revoked', async () => {
    const short = await makeApp(1_500);
    try {
      const { cookie } = await signIn(short, keys.sre);
      expect((await short.inject({ method: 'GET', url: '/api/v1/pipeline', headers: { cookie } })).statusCode).not.toBe(401);
      await new Promise((r) => setTimeout(r, 1_700));
      expect((await short.inject({ method: 'GET', url: '/api/v1/models', headers: { cookie } })).statusCode).toBe(401);
    } finally {
      await short.close();
    }
    const doomed = await createApiKey(pool, 'cs-doomed', 'analyst', 'test');
    const { cookie } = await signIn(app, doomed.key);
    expect((await app.inject({ method: 'GET', url: '/api/v1/alerts', headers: { cookie } })).statusCode).toBe(200);
    expect(await revokeApiKey(pool, doomed.keyId, 'test')).toBe(true);
    const after = await app.inject({ method: 'GET', url: '/api/v1/alerts', headers: { cookie } });
    expect(after.statusCode).toBe(401);
  });
});

describe('the console’s files', () => {
  it('the page and its bundle are served with a policy that allows no inline script, gzip and ETag revalidation', async () => {
    const page = await app.inject({ method: 'GET', url: '/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['content-security-policy']).toBe(CONSOLE_CSP);
    expect(CONSOLE_CSP).not.toMatch(/unsafe-inline|unsafe-eval/);
    expect(page.body).toMatch(/<script type="module" src="\/console\/app\.js"><\/script>/);
    expect(page.body).not.toMatch(/<script>(?!<\/script>)/);

    const js = await app.inject({ method: 'GET', url: '/console/app.js', headers: { 'accept-encoding': 'gzip' } });
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-encoding']).toBe('gzip');
    expect(js.headers['content-type']).toMatch(/^text\/javascript/);
    const again = await app.inject({
      method: 'GET',
      url: '/console/app.js',
      headers: { 'if-none-match': String(js.headers.etag) },
    });
    expect(again.statusCode).toBe(304);
    expect((await app.inject({ method: 'GET', url: '/console/secrets.txt' })).statusCode).toBe(404);
    expect((await app.inject({ method: 'GET', url: '/console/..%2Fpackage.json' })).statusCode).toBe(404);
  });
});
