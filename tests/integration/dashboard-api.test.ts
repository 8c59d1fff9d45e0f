// The dashboard API against the real MariaDB, Redis and Kafka, with data the real pipeline wrote
// (simulated transactions through ingest and reconcile): each route's happy path and 4xx cases, the
// role × route matrix, fuzzed inputs that never give a 5xx, pagination stable under concurrent
// inserts, and a valid OpenAPI document.
import SwaggerParser from '@apidevtools/swagger-parser';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import fc from 'fast-check';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, revokeApiKey, type Role } from '../../dashboard-api/auth/api-keys.ts';
import { buildApp } from '../../dashboard-api/app.ts';
import { createApiMetrics } from '../../dashboard-api/plugins/metrics.ts';
import { dependencyProbes } from '../../dashboard-api/routes/health.ts';
import { groupLag } from '../../platform/batch-consumer.ts';
import { createKafka } from '../../platform/kafka.ts';
import { createPool, type Pool } from '../../platform/mysql.ts';
import { createStateRedis } from '../../platform/redis.ts';
import { startIngest } from '../../processors/ingest/main.ts';
import { startReconcile } from '../../processors/reconcile/main.ts';
import { DEFAULT_SIM_OPTIONS } from '../../simulator/types.ts';
import { topicName } from '../../topics/topics.ts';
import { deleteDecidedAlerts, insertDecidedAlerts } from '../helpers/decided.ts';
import { createNamespace, testLogger, type TestNamespace } from '../helpers/namespace.ts';
import { produceSimulated } from '../helpers/pipeline.ts';
import { produceSimulatedSettlements } from '../helpers/recon.ts';
import { slowStep } from '../helpers/slow-step.ts';
import { promote, registerModel } from '../../models/model-registry.ts';
import { trainModel } from '../../models/train.ts';

let ns: TestNamespace;
let pool: Pool;
let app: FastifyInstance;
let redis: ReturnType<typeof createStateRedis>;
let admin: ReturnType<ReturnType<typeof createKafka>['admin']>;
const keys = {} as Record<Role, string>;
/** The ingest drain's Prometheus text, read when it ended. */
let ingestMetrics = '';

async function makeApp(
  rateLimitPerMinute = 100_000,
  guard: Partial<TestNamespace['cfg']['apiGuard']> = {},
): Promise<FastifyInstance> {
  const metrics = createApiMetrics({
    lag: async () => [
      {
        group: ns.cfg.ingest.groupId,
        topic: 'transactions',
        lag: await groupLag(admin, ns.cfg.ingest.groupId, topicName(ns.cfg.topicNamespace, 'transactions')),
      },
    ],
    deadLetters: async () => [{ topic: 'dlq', records: 0 }],
  });
  const probes = dependencyProbes({
    pool,
    redisPing: () => redis.ping(),
    admin,
    lag: { read: () => groupLag(admin, ns.cfg.ingest.groupId, topicName(ns.cfg.topicNamespace, 'transactions')), max: 1_000_000 },
  });
  const a = await buildApp(
    {
      pool,
      logger: testLogger,
      metrics,
      probes,
      state: {
        redis,
        keyPrefix: ns.cfg.keyPrefix,
        windows: ns.cfg.state.windows,
        baseCurrency: ns.cfg.state.baseCurrency,
        stateTtlMs: ns.cfg.state.ttlSeconds * 1000,
      },
      pipeline: {
        admin,
        topology: {
          groups: [{ group: ns.cfg.ingest.groupId, topics: [topicName(ns.cfg.topicNamespace, 'transactions')] }],
          deadLetterTopics: [topicName(ns.cfg.topicNamespace, 'transactionsDlq')],
        },
      },
      promotionCheck: ns.cfg,
    },
    {
      rateLimitPerMinute,
      keyCacheMs: 0,
      // The role matrix and the fuzzing send thousands of requests, many with wrong keys, from one address.
      guard: { ...ns.cfg.apiGuard, rateLimitPerAddressPerMinute: 1_000_000, authFailuresPerMinute: 1_000_000, ...guard },
    },
  );
  await a.ready();
  return a;
}

const auth = (role: Role | string) => ({ authorization: `Bearer ${role in keys ? keys[role as Role] : role}` });

beforeAll(async () => {
  // One CI run once timed out in this hook without saying where: each step names itself when slow.
  ns = await slowStep('create namespace', () => createNamespace());
  const simOpts = { ...DEFAULT_SIM_OPTIONS, seed: 31, count: 6_000 };
  await slowStep('produce transactions', () => produceSimulated(ns, simOpts));
  await slowStep('produce settlements', () => produceSimulatedSettlements(ns, simOpts));
  await slowStep('ingest drain', async () => {
    const ingest = await startIngest(ns.cfg, testLogger, { drain: true });
    await ingest.done;
    ingestMetrics = await ingest.metrics.registry.metrics();
  });
  await slowStep('reconcile drain', async () => (await startReconcile(ns.cfg, testLogger, { drain: true })).done);
  pool = createPool(ns.cfg);
  redis = createStateRedis(ns.cfg);
  await redis.connect();
  admin = createKafka(ns.cfg, testLogger).admin();
  await admin.connect();
  for (const role of ['analyst', 'sre', 'admin'] as const)
    keys[role] = (await createApiKey(pool, `test-${role}`, role, 'test')).key;
  app = await makeApp();
}, 300_000);

afterAll(async () => {
  await app?.close();
  await admin?.disconnect();
  redis?.disconnect();
  await pool?.end();
  await ns?.cleanup();
});

async function anAlert(status = 'OPEN', order: 'ASC' | 'DESC' = 'ASC'): Promise<string> {
  const [[row]] = await pool.query<RowDataPacket[]>(
    `SELECT alert_id FROM alerts WHERE status = ? ORDER BY alert_id ${order} LIMIT 1`,
    [status],
  );
  expect(row, `an alert in status ${status}`).toBeDefined();
  return String(row?.alert_id);
}

describe('probes, metrics, documents', () => {
  it('healthz and readyz are public (status only); readyz/detail (sre) shows the checks of MySQL, Redis, the broker and the lag', async () => {
    expect((await app.inject({ url: '/healthz' })).json()).toEqual({ status: 'ok' });
    const ready = await app.inject({ url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: 'ready' });
    const detail = await app.inject({ url: '/readyz/detail', headers: auth('sre') });
    expect(detail.json().checks.map((c: { name: string; ok: boolean }) => `${c.name}:${c.ok}`)).toEqual([
      'mysql:true',
      'redis:true',
      'kafka:true',
      'consumer-lag:true',
    ]);
  });

  it('readyz is 503; its detail names the dependency that does not answer', async () => {
    const metrics = createApiMetrics(null);
    const broken = await buildApp(
      {
        pool,
        logger: testLogger,
        metrics,
        probes: [{ name: 'redis', check: () => Promise.reject(new Error('connection refused')) }],
      },
      { rateLimitPerMinute: 100, keyCacheMs: 0, guard: ns.cfg.apiGuard },
    );
    const pub = await broken.inject({ url: '/readyz' });
    const res = await broken.inject({ url: '/readyz/detail', headers: auth('sre') });
    await broken.close();
    expect(pub.statusCode).toBe(503);
    expect(pub.json()).toEqual({ status: 'not-ready' });
    expect(res.statusCode).toBe(503);
    // The detail names the dependency, never the driver's message (hosts, users).
    expect(res.json()).toEqual({
      status: 'not-ready',
      checks: [{ name: 'redis', ok: false, detail: 'not answering (the API log has the error)', last_ok_seconds_ago: null }],
    });
  });

  it('metrics: for sre and admin, with request counts and the pipeline view', async () => {
    await app.inject({ url: '/healthz' });
    const res = await app.inject({ url: '/metrics', headers: auth('sre') });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.body).toMatch(/txmon_api_requests_total\{route="\/healthz",method="GET",status="200"\} \d+/);
    expect(res.body).toMatch(/txmon_pipeline_consumer_lag_records\{group="[^"]+",topic="transactions"\} 0/);
    expect((await app.inject({ url: '/metrics', headers: auth('analyst') })).statusCode).toBe(403);
  });

  it('the ingest committed each batch’s offsets once: in a transaction when it published, as the group member when not', async () => {
    const sample = (name: string, labels = '') =>
      Number(new RegExp(`^${name}${labels.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(ingestMetrics)?.[1] ?? NaN);
    const batches = sample('txmon_ingest_batch_duration_seconds_count');
    const inTransaction = sample('txmon_ingest_offset_commits_total', '{kind="transaction"}');
    const asMember = sample('txmon_ingest_offset_commits_total', '{kind="member"}') || 0;
    expect(batches).toBeGreaterThan(0);
    // 6,000 transactions with dead letters and alerts: some batches publish.
    expect(inTransaction).toBeGreaterThan(0);
    expect(inTransaction + asMember).toBe(batches);
  });

  it('serves a valid OpenAPI document and its UI; every route states its roles', async () => {
    const doc = (await app.inject({ url: '/openapi.json' })).json();
    await SwaggerParser.validate(structuredClone(doc));
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/alerts',
        '/api/v1/alerts/{alertId}/resolve',
        '/api/v1/reconciliation/summary',
        '/api/v1/models',
      ]),
    );
    expect((await app.inject({ url: '/docs' })).statusCode).toBeLessThan(400);
    const bad = (await import('fastify')).default();
    await bad.register((await import('@fastify/rate-limit')).default, { global: false });
    await bad.register((await import('../../dashboard-api/plugins/auth.ts')).default, {
      pool,
      cacheMs: 0,
      negativeCacheMs: 0,
      perKeyPerMinute: 1,
      authFailuresPerMinute: 1,
    });
    expect(() => bad.get('/unstated', async () => 'x')).toThrow(/states no roles/);
    await bad.close();
  });

  it('sends security headers and problem details', async () => {
    const res = await app.inject({ url: '/nope' });
    expect(res.statusCode).toBe(404);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-frame-options']).toBeDefined();
    expect(res.json()).toEqual({
      type: 'about:blank',
      title: 'Not Found',
      status: 404,
      detail: 'no route GET /nope',
      instance: '/nope',
    });
  });
});

describe('authentication and roles', () => {
  // Every route of the OpenAPI document (its description states the roles), with a request that
  // passes validation: the matrix cannot miss a route added later.
  const matrix = async (): Promise<
    Array<{ method: 'GET' | 'POST'; url: string; body?: object; roles: Role[]; streams: boolean }>
  > => {
    const alert = await anAlert();
    const [[tx]] = await pool.query<RowDataPacket[]>('SELECT transaction_id, account_id FROM transactions LIMIT 1');
    const doc = (await app.inject({ url: '/openapi.json' })).json() as {
      paths: Record<string, Record<string, { description?: string }>>;
    };
    const params: Record<string, string> = {
      alertId: alert,
      transactionId: String(tx?.transaction_id),
      accountId: String(tx?.account_id),
      reference: 'no-such-ref',
      version: 'if-none',
    };
    const bodies: Record<string, object> = { resolve: { label: 'legitimate' }, notes: { note: 'looked at it' } };
    const out: Array<{ method: 'GET' | 'POST'; url: string; body?: object; roles: Role[]; streams: boolean }> = [];
    for (const [path, ops] of Object.entries(doc.paths))
      for (const [method, op] of Object.entries(ops)) {
        const roles = /Roles: ([a-z, ]+)\./.exec(op.description ?? '')?.[1];
        if (op.description?.includes('Public: no key needed.')) continue;
        expect(roles, `${method} ${path} states its roles in the document`).toBeDefined();
        const url = path.replace(/\{(\w+)\}/g, (_, name: string) => params[name] ?? 'x');
        const upper = method.toUpperCase() as 'GET' | 'POST';
        out.push({
          method: upper,
          url,
          roles: (roles as string).split(', ') as Role[],
          streams: path.endsWith('/stream'),
          ...(upper === 'POST' && { body: bodies[path.split('/').pop() as string] ?? {} }),
        });
      }
    expect(out.length).toBeGreaterThanOrEqual(19);
    return out;
  };

  it('refuses every call without a key (401), with a wrong or revoked key (401), or of another role (403)', async () => {
    const extra = await createApiKey(pool, 'to-revoke', 'admin', 'test');
    await revokeApiKey(pool, extra.keyId, 'test');
    const forged = `${keys.admin.slice(0, -4)}AAAA`;
    for (const r of await matrix()) {
      const call = (headers: Record<string, string>) =>
        app.inject({ method: r.method, url: r.url, headers, ...(r.body && { payload: r.body }) });
      for (const headers of [{}, auth('garbage'), auth(forged), auth(extra.key)]) {
        const res = await call(headers);
        expect(res.statusCode, `${r.method} ${r.url} ${JSON.stringify(headers).slice(0, 30)}`).toBe(401);
        expect(res.json().detail).toMatch(/API key/);
      }
      for (const role of ['analyst', 'sre', 'admin'] as const) {
        // A stream that is allowed would never end here; its refusals are what this test is about.
        if (r.streams && r.roles.includes(role)) continue;
        const res = await call(auth(role));
        if (r.roles.includes(role)) expect([401, 403], `${role} ${r.method} ${r.url}: ${res.body}`).not.toContain(res.statusCode);
        else {
          expect(res.statusCode, `${role} ${r.method} ${r.url}`).toBe(403);
          expect(res.json().detail).toContain(`role ${role} may not call this route`);
        }
      }
    }
  });

  it('txmon apikey create prints a key once, list shows it without its secret, revoke refuses it from then on', async () => {
    const cli = (...args: string[]) =>
      spawnSync(process.execPath, ['bin/txmon.js', 'apikey', ...args], {
        cwd: new URL('../../', import.meta.url).pathname,
        env: { ...process.env, ...ns.env, TXMON_LOG_LEVEL: 'silent' },
        encoding: 'utf8',
      });
    const created = cli('create', '--name', 'cli-made', '--role', 'sre');
    expect(created.status, created.stderr).toBe(0);
    const key = created.stdout.trim();
    expect(key).toMatch(/^txk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    expect((await app.inject({ url: '/api/v1/models', headers: auth(key) })).statusCode).toBe(200);
    const listed = cli('list');
    const keyId = key.split('_')[1] as string;
    // The secret is everything after `txk_<id>_`: base64url, so it may itself hold (or begin with) '_'.
    const secret = key.slice(`txk_${keyId}_`.length);
    expect(secret).toHaveLength(43);
    expect(listed.stderr).toMatch(new RegExp(`${keyId}\\s+sre\\s+cli-made`));
    expect(listed.stderr + listed.stdout).not.toContain(secret);
    expect(cli('revoke', keyId).status).toBe(0);
    expect((await app.inject({ url: '/api/v1/models', headers: auth(key) })).statusCode).toBe(401);
    const again = cli('revoke', keyId);
    expect(again.status).toBe(2);
    expect(again.stderr).toMatch(/no active key/);
    expect(cli('create', '--name', 'x', '--role', 'root').status).not.toBe(0);
  });

  it('accepts the key as X-Api-Key too; authenticated answers are not cached', async () => {
    const res = await app.inject({ url: '/api/v1/models', headers: { 'x-api-key': keys.sre } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('rate-limits per key however the header is spelled, and unauthenticated calls per address, with a 429 problem', async () => {
    const limited = await makeApp(3, { authFailuresPerMinute: 3 });
    const key = keys.sre;
    const spellings = [
      { authorization: `Bearer ${key}` },
      { authorization: `bearer  ${key}` },
      { 'x-api-key': key },
      { authorization: `BEARER ${key}` },
    ];
    const codes: number[] = [];
    for (const headers of spellings) codes.push((await limited.inject({ url: '/api/v1/models', headers })).statusCode);
    const last = await limited.inject({ url: '/api/v1/models', headers: auth('sre') });
    // Another key has its own allowance.
    const other = await limited.inject({ url: '/api/v1/models', headers: auth('admin') });
    // Wrong keys count against the client's address (its failure budget): guessing is limited too.
    const guesses: number[] = [];
    for (let i = 0; i < 4; i++)
      guesses.push(
        (
          await limited.inject({
            url: '/api/v1/models',
            headers: { authorization: `Bearer txk_${'0'.repeat(12)}_${'a'.repeat(43)}` },
          })
        ).statusCode,
      );
    await limited.close();
    expect(codes).toEqual([200, 200, 200, 429]);
    expect(last.json()).toMatchObject({ status: 429, title: 'Too Many Requests' });
    expect(other.statusCode).toBe(200);
    expect(guesses).toEqual([401, 401, 401, 429]);
  });

  it('trusts a verified key for the cache period only: a revocation takes effect within it', async () => {
    const cached = await buildApp(
      { pool, logger: testLogger, metrics: createApiMetrics(null), probes: [] },
      { rateLimitPerMinute: 1_000, keyCacheMs: 400, guard: ns.cfg.apiGuard },
    );
    const k = await createApiKey(pool, 'cached', 'sre', 'test');
    const call = () => cached.inject({ url: '/api/v1/models', headers: { authorization: `Bearer ${k.key}` } });
    expect((await call()).statusCode).toBe(200);
    await revokeApiKey(pool, k.keyId, 'test');
    expect((await call()).statusCode).toBe(200);
    await new Promise((r) => setTimeout(r, 500));
    expect((await call()).statusCode).toBe(401);
    await cached.close();
  });
});

describe('alerts', () => {
  it('lists alerts newest first with filters', async () => {
    const all = (await app.inject({ url: '/api/v1/alerts?limit=500', headers: auth('analyst') })).json();
    const [[count]] = await pool.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM alerts');
    expect(all.items).toHaveLength(Number(count?.n));
    expect(all.items.length).toBeGreaterThan(5);
    expect(all.next).toBeNull();
    const first = all.items[0];
    const byAccount = (
      await app.inject({ url: `/api/v1/alerts?account_id=${first.account_id}`, headers: auth('analyst') })
    ).json();
    expect(byAccount.items.every((a: { account_id: string }) => a.account_id === first.account_id)).toBe(true);
    const [[hit]] = await pool.query<RowDataPacket[]>(
      "SELECT JSON_UNQUOTE(JSON_EXTRACT(rule_hits, '$[0].ruleId')) AS rule, JSON_UNQUOTE(JSON_EXTRACT(rule_hits, '$[0].severity')) AS severity FROM decisions WHERE JSON_LENGTH(rule_hits) > 0 LIMIT 1",
    );
    const byRule = (
      await app.inject({ url: `/api/v1/alerts?rule_id=${String(hit?.rule)}&limit=500`, headers: auth('analyst') })
    ).json();
    expect(byRule.items.length).toBeGreaterThan(0);
    const bySeverity = (
      await app.inject({ url: `/api/v1/alerts?severity=${String(hit?.severity)}&limit=500`, headers: auth('analyst') })
    ).json();
    expect(bySeverity.items.length).toBeGreaterThanOrEqual(1);
    const none = (await app.inject({ url: '/api/v1/alerts?from=2030-01-01T00:00:00Z', headers: auth('analyst') })).json();
    expect(none.items).toEqual([]);
  });

  it('answers bad filters with a 400 naming the field', async () => {
    for (const [q, field] of [
      ['status=MAYBE', 'querystring.status'],
      ['limit=0', 'querystring.limit'],
      ['from=yesterday', 'querystring.from'],
      ['cursor=not!a!cursor', 'querystring.cursor'],
      ['extra=1', 'querystring'],
    ] as const) {
      const res = await app.inject({ url: `/api/v1/alerts?${q}`, headers: auth('analyst') });
      expect(res.statusCode, q).toBe(400);
      expect(res.json().detail, q).toContain(field);
    }
    const forged = Buffer.from('["x"]').toString('base64url');
    const res = await app.inject({ url: `/api/v1/alerts?cursor=${forged}`, headers: auth('analyst') });
    expect(res.statusCode).toBe(400);
    expect(res.json().detail).toMatch(/not a cursor this API returned/);
  });

  it('pages are stable while new alerts arrive: no alert repeated or skipped', async () => {
    const [before] = await pool.query<RowDataPacket[]>('SELECT alert_id FROM alerts');
    const expected = before.map((r) => String(r.alert_id)).sort();
    const seen: string[] = [];
    let cursor: string | null = null;
    let n = 0;
    do {
      const page: { items: Array<{ alert_id: string }>; next: string | null } = (
        await app.inject({ url: `/api/v1/alerts?limit=3${cursor ? `&cursor=${cursor}` : ''}`, headers: auth('analyst') })
      ).json();
      seen.push(...page.items.map((a) => a.alert_id));
      cursor = page.next;
      // New alerts (with their decisions) land between page reads.
      const id = `${(n++).toString(16).padStart(8, '0')}${'f'.repeat(24)}`;
      const now = new Date();
      await insertDecidedAlerts(pool, [
        { alertId: id, transactionId: `tx-new-${id}`, accountId: 'acc-new', eventTime: now, createdAt: now, summary: 'new' },
      ]);
    } while (cursor !== null);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.filter((id) => !id.endsWith('f'.repeat(24))).sort()).toEqual(expected);
    await deleteDecidedAlerts(pool, 'acc-new');
  });

  it('shows one alert with its decision, explanation, feature snapshot and no card data', async () => {
    const id = await anAlert();
    const res = await app.inject({ url: `/api/v1/alerts/${id}`, headers: auth('analyst') });
    expect(res.statusCode).toBe(200);
    const a = res.json();
    expect(a.alert_id).toBe(id);
    expect(a.decision_detail.ruleset_version).toMatch(/@/);
    expect(a.decision_detail.explanation).toBeTypeOf('object');
    expect(a.feature_snapshot).toHaveProperty('amount_base_minor');
    expect(res.body).not.toMatch(/card_token|tok_|latitude/);
    expect((await app.inject({ url: `/api/v1/alerts/${'0'.repeat(32)}`, headers: auth('analyst') })).statusCode).toBe(404);
    expect((await app.inject({ url: '/api/v1/alerts/xyz', headers: auth('analyst') })).statusCode).toBe(400);
  });

  it('triage: acknowledge, resolve with a label, notes — each in the audit log and the alert’s history', async () => {
    // Not the alert the role matrix wrote notes on.
    const id = await anAlert('OPEN', 'DESC');
    const ack = await app.inject({ method: 'POST', url: `/api/v1/alerts/${id}/acknowledge`, headers: auth('analyst') });
    expect(ack.json()).toEqual({ alert_id: id, status: 'IN_REVIEW' });
    const again = await app.inject({ method: 'POST', url: `/api/v1/alerts/${id}/acknowledge`, headers: auth('analyst') });
    expect(again.statusCode).toBe(409);
    expect(again.json().detail).toBe(`alert ${id} is IN_REVIEW; alert.acknowledge needs OPEN`);
    const resolved = await app.inject({
      method: 'POST',
      url: `/api/v1/alerts/${id}/resolve`,
      headers: auth('analyst'),
      payload: { label: 'fraud', note: 'customer confirmed' },
    });
    expect(resolved.json()).toEqual({ alert_id: id, status: 'CONFIRMED_FRAUD' });
    const bad = await app.inject({
      method: 'POST',
      url: `/api/v1/alerts/${id}/resolve`,
      headers: auth('analyst'),
      payload: { label: 'maybe' },
    });
    expect(bad.statusCode).toBe(400);
    await app.inject({
      method: 'POST',
      url: `/api/v1/alerts/${id}/notes`,
      headers: auth('admin'),
      payload: { note: 'closed the card' },
    });
    const detail = (await app.inject({ url: `/api/v1/alerts/${id}`, headers: auth('analyst') })).json();
    expect(detail.status).toBe('CONFIRMED_FRAUD');
    expect(detail.history.map((h: { action: string; actor: string }) => `${h.action} by ${h.actor.split(' ')[0]}`)).toEqual([
      'alert.acknowledge by test-analyst',
      'alert.resolve by test-analyst',
      'alert.note by test-admin',
    ]);
    const [[label]] = await pool.query<RowDataPacket[]>(
      'SELECT l.label, l.source FROM labels l JOIN alerts a ON a.transaction_id = l.transaction_id WHERE a.alert_id = ?',
      [id],
    );
    expect(label).toMatchObject({ label: 'fraud', source: 'analyst' });
  });
});

describe('transactions, reconciliation, models', () => {
  it('a transaction with its decision, alerts and reconciliation status', async () => {
    const [[row]] = await pool.query<RowDataPacket[]>(
      "SELECT t.transaction_id FROM transactions t JOIN recon_results r ON r.reference = t.reference WHERE t.type = 'AUTHORIZATION' LIMIT 1",
    );
    const res = await app.inject({ url: `/api/v1/transactions/${String(row?.transaction_id)}`, headers: auth('analyst') });
    expect(res.statusCode).toBe(200);
    const t = res.json();
    expect(t.decision.decision).toMatch(/ALLOW|REVIEW|BLOCK/);
    expect(t.reconciliation.status).toMatch(/MATCHED|MISMATCH|MISSING|DUPLICATE|LATE|PENDING/);
    expect(res.body).not.toMatch(/card_token|card_last4|latitude|device_id/);
    expect((await app.inject({ url: '/api/v1/transactions/tx-none', headers: auth('analyst') })).statusCode).toBe(404);
  });

  it('reconciliation summary and exceptions, paged; resolve and accept audited, refused when not open', async () => {
    const summary = (await app.inject({ url: '/api/v1/reconciliation/summary', headers: auth('sre') })).json();
    expect(summary.lines.some((l: { status: string }) => l.status === 'MATCHED')).toBe(true);
    const [[count]] = await pool.query<RowDataPacket[]>(
      "SELECT COUNT(*) AS n FROM recon_results WHERE status NOT IN ('MATCHED', 'PENDING')",
    );
    const refs: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { items: Array<{ reference: string }>; next: string | null } = (
        await app.inject({
          url: `/api/v1/reconciliation/exceptions?limit=20${cursor ? `&cursor=${cursor}` : ''}`,
          headers: auth('sre'),
        })
      ).json();
      refs.push(...page.items.map((i) => i.reference));
      cursor = page.next;
    } while (cursor !== null);
    expect(refs).toHaveLength(Number(count?.n));
    const ref = refs[0] as string;
    const [[current]] = await pool.query<RowDataPacket[]>('SELECT revision FROM recon_results WHERE reference = ?', [ref]);
    const listed = (await app.inject({ url: '/api/v1/reconciliation/exceptions?limit=1', headers: auth('sre') })).json().items[0];
    expect(listed).toMatchObject({ reference: ref, revision: Number(current?.revision) });
    const stale = await app.inject({
      method: 'POST',
      url: `/api/v1/reconciliation/exceptions/${ref}/accept`,
      headers: auth('analyst'),
      payload: { revision: Number(current?.revision) + 1 },
    });
    expect(stale.statusCode).toBe(409);
    expect(stale.json().detail).toMatch(/changed|revision/);
    const ok = await app.inject({
      method: 'POST',
      url: `/api/v1/reconciliation/exceptions/${ref}/accept`,
      headers: auth('analyst'),
      payload: { note: 'fee' },
    });
    expect(ok.statusCode).toBe(200);
    expect(ok.json().resolution).toBe('ACCEPTED');
    const again = await app.inject({
      method: 'POST',
      url: `/api/v1/reconciliation/exceptions/${ref}/resolve`,
      headers: auth('analyst'),
      payload: {},
    });
    expect(again.statusCode).toBe(409);
    const unknown = await app.inject({
      method: 'POST',
      url: '/api/v1/reconciliation/exceptions/no-such-ref/resolve',
      headers: auth('analyst'),
      payload: {},
    });
    expect(unknown.statusCode).toBe(404);
    expect(
      (await app.inject({ url: '/api/v1/reconciliation/exceptions?open=false', headers: auth('sre') })).json().items,
    ).toHaveLength(1);
  });

  it('models: list; admin changes refused with 404/409 when the registry says no', async () => {
    expect((await app.inject({ url: '/api/v1/models', headers: auth('analyst') })).json()).toEqual([]);
    const promote = await app.inject({
      method: 'POST',
      url: '/api/v1/models/if-none/promote',
      headers: auth('admin'),
      payload: {},
    });
    expect(promote.statusCode).toBe(404);
    // No body at all: the reason is optional.
    const rollback = await app.inject({ method: 'POST', url: '/api/v1/models/rollback', headers: auth('admin') });
    expect(rollback.statusCode).toBe(409);
    expect(rollback.json().detail).toMatch(/no model is active/);
  });

  it('rule sets: admins publish (validated, the same text once), shadow, promote and roll back; everyone reads them and the shadow report', async () => {
    const shipped = readFileSync(new URL('../../rules/rules.json', import.meta.url), 'utf8');
    const call = (method: 'GET' | 'POST', url: string, role: Role, payload?: Record<string, unknown>) =>
      app.inject({ method, url: `/api/v1${url}`, headers: auth(role), ...(payload !== undefined ? { payload } : {}) });
    expect((await call('GET', '/rules', 'analyst')).json()).toEqual([]);
    expect((await call('POST', '/rules', 'sre', { text: shipped, reason: 'r' })).statusCode).toBe(403);
    const bad = await call('POST', '/rules', 'admin', {
      text: shipped.replace('"account_count_1m"', '"nope_1m"'),
      reason: 'typo',
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().detail).toMatch(/unknown variable "nope_1m"/);
    const created = await call('POST', '/rules', 'admin', { text: shipped, reason: 'the shipped rules' });
    expect(created.statusCode).toBe(201);
    const { version } = created.json() as { version: string };
    expect(version).toMatch(/^1@[0-9a-f]{12}$/);
    expect((await call('POST', '/rules', 'admin', { text: shipped, reason: 'again' })).json()).toEqual({
      version,
      created: false,
    });
    expect((await call('GET', `/rules/${version}`, 'sre')).json()).toEqual({ version, state: 'candidate', text: shipped });
    expect((await call('GET', '/rules/9@000000000000', 'analyst')).statusCode).toBe(404);

    expect((await call('POST', `/rules/${version}/shadow`, 'admin', { reason: 'try it' })).json()).toEqual({
      shadow: version,
      replaced: null,
    });
    const report = await call('GET', `/rules/${version}/shadow-report`, 'analyst');
    expect(report.statusCode).toBe(200);
    expect(report.json()).toMatchObject({ version, state: 'shadow', transactions: 0, changed: 0, alerts_per_day: [] });
    // Backtested first, over the stored decisions (the shipped rules: nothing changes, no segment moves).
    const promoted = (await call('POST', `/rules/${version}/promote`, 'admin', { strict: true })).json() as Record<
      string,
      unknown
    >;
    expect(promoted).toMatchObject({ active: version, previous: null, check: { flagged: [] } });
    expect((promoted.check as { summary: string }).summary).toMatch(/^check: 0 of [\d,]+ decisions would change/);
    const rollback = await call('POST', '/rules/rollback', 'admin', {});
    expect(rollback.statusCode).toBe(409);
    expect(rollback.json().detail).toMatch(/there is none to roll back to/);
    expect((await call('GET', '/rules', 'analyst')).json()).toEqual([
      expect.objectContaining({
        version,
        state: 'active',
        author: expect.stringMatching(/ \(key /),
        reason: 'the shipped rules',
      }),
    ]);
    const [audits] = await pool.query<RowDataPacket[]>(
      "SELECT action, client_addr FROM audit_log WHERE action LIKE 'rules.%' ORDER BY id",
    );
    expect(audits.map((a) => a.action)).toEqual(['rules.publish', 'rules.shadow', 'rules.promote']);
    // A staged rollout of a second version shows where it stands, for every role.
    const second = await call('POST', '/rules', 'admin', {
      text: shipped.replace('"version": "1"', '"version": "2"'),
      reason: 'two',
    });
    const v2 = (second.json() as { version: string }).version;
    expect((await call('GET', '/rollouts', 'analyst')).json()).toEqual([]);
    expect((await call('POST', '/rollouts', 'analyst', { kind: 'rules', version: v2, share: 0.1 })).statusCode).toBe(403);
    expect((await call('POST', '/rollouts', 'admin', { kind: 'rules', version: '9@000000000000', share: 0.1 })).statusCode).toBe(
      404,
    );
    const started = await call('POST', '/rollouts', 'admin', { kind: 'rules', version: v2, share: 0.1, reason: 'canary' });
    expect(started.statusCode).toBe(200);
    const id = (started.json() as { id: number }).id;
    expect((await call('POST', '/rollouts', 'admin', { kind: 'rules', version: v2, share: 0.2 })).statusCode).toBe(409);
    expect((await call('POST', '/rollouts/grow', 'admin', { share: 0.05 })).statusCode).toBe(409);
    expect((await call('POST', '/rollouts/grow', 'admin', { share: 0.25 })).json()).toMatchObject({ id, share: 0.25 });
    const listed = (await call('GET', '/rollouts', 'sre')).json() as Array<Record<string, unknown>>;
    expect(listed).toEqual([
      expect.objectContaining({
        id,
        kind: 'rules',
        version: v2,
        control_version: version,
        share: 0.25,
        state: 'running',
        arms: { canary: expect.any(Object), control: expect.any(Object) },
      }),
    ]);
    expect((await call('POST', '/rollouts/rollback', 'admin', { reason: 'enough' })).json()).toMatchObject({
      id,
      state: 'rolled_back',
      arms: null,
    });
    expect((await call('POST', '/rollouts/rollback', 'admin', {})).statusCode).toBe(409);
    const [steps] = await pool.query<RowDataPacket[]>(
      "SELECT action, client_addr FROM audit_log WHERE action LIKE 'rollout.%' ORDER BY id",
    );
    expect(steps.map((a) => a.action)).toEqual(['rollout.start', 'rollout.grow', 'rollout.rollback']);
    expect(steps[0]?.client_addr).not.toBeNull();
    // Every role reads the rollout's trail: who took each step, and why.
    const [trail] = (await call('GET', '/rollouts', 'analyst')).json() as Array<{
      history: Array<{ actor: string; action: string; detail: Record<string, unknown> }>;
    }>;
    expect(trail?.history.map((h) => [h.action, h.detail.reason ?? null])).toEqual([
      ['rollout.start', 'canary'],
      ['rollout.grow', null],
      ['rollout.rollback', 'enough'],
    ]);
    expect(trail?.history.every((h) => /\(key [0-9a-f]{12}\)$/.test(h.actor))).toBe(true);
    expect(trail?.history[1]?.detail).toMatchObject({ id, from: 10, to: 25 });
    // The running ingest now decides with the registry's copy of the shipped rules: the same version as the file's.
  });
});

describe('accounts, pipeline, drift, live stream', () => {
  it('an account’s live aggregates from Redis equal what its latest transaction saw; 404 for an unknown account', async () => {
    const [[row]] = await pool.query<RowDataPacket[]>(
      'SELECT account_id, features FROM transactions WHERE late = 0 ORDER BY event_time DESC LIMIT 1',
    );
    const res = await app.inject({ url: `/api/v1/accounts/${String(row?.account_id)}/aggregates`, headers: auth('analyst') });
    expect(res.statusCode, res.body).toBe(200);
    const a = res.json();
    expect(a.windows.map((w: { window: string }) => w.window)).toEqual(['1m', '1h', '24h']);
    // The stored snapshot of the account's latest transaction counts it in its windows, as the live state does.
    const snap = (typeof row?.features === 'string' ? JSON.parse(row.features) : row?.features) as Record<string, number>;
    expect(a.windows[2].count).toBe(snap.account_count_24h);
    // Its recent activity bucket by bucket: each window's buckets add up to the window's count and sum.
    for (const [i, w] of (
      a.activity as Array<{ window: string; buckets: Array<{ count: number; sum_base_minor: number }> }>
    ).entries()) {
      expect(w.window).toBe(a.windows[i].window);
      expect(w.buckets.reduce((n, b) => n + b.count, 0)).toBe(a.windows[i].count);
      expect(w.buckets.reduce((n, b) => n + b.sum_base_minor, 0)).toBe(a.windows[i].sum_base_minor);
    }
    expect((await app.inject({ url: '/api/v1/accounts/acc-nobody/aggregates', headers: auth('analyst') })).statusCode).toBe(404);
  });

  it('pipeline: lag per partition, dead letters, stored, late and duplicate counts', async () => {
    const p = (await app.inject({ url: '/api/v1/pipeline', headers: auth('sre') })).json();
    expect(p.groups[0].lag).toBe(0);
    expect(p.groups[0].partitions).toHaveLength(6);
    const [[t]] = await pool.query<RowDataPacket[]>('SELECT COUNT(*) AS n, SUM(late) AS late FROM transactions');
    expect(p.transactions.stored).toBe(Number(t?.n));
    expect(p.transactions.late).toBe(Number(t?.late));
    expect(p.dead_letters[0].records).toBeGreaterThan(0);
    expect((await app.inject({ url: '/api/v1/pipeline', headers: auth('analyst') })).statusCode).toBe(403);
  });

  it('drift: 409 without an active model; with one, PSI per feature over its recent decisions', async () => {
    const none = await app.inject({ url: '/api/v1/models/drift', headers: auth('sre') });
    expect(none.statusCode).toBe(409);
    expect(none.json().detail).toMatch(/no model is active/);
    const model = await trainModel(
      pool,
      ns.cfg.state.windows,
      { trees: 50, sampleSize: 256, seed: 1, alertRate: 0.01 },
      () => {},
    );
    await registerModel(pool, model, 'test');
    await promote(pool, model.version, 'test', 'drift test');
    // Its card, written at training, for every role.
    const card = await app.inject({ url: `/api/v1/models/${model.version}/card`, headers: auth('analyst') });
    expect(card.statusCode).toBe(200);
    expect(card.json()).toMatchObject({
      version: model.version,
      training: { rows: model.trainingRows },
      calibration: expect.any(Array),
    });
    expect((await app.inject({ url: '/api/v1/models/if-none/card', headers: auth('sre') })).statusCode).toBe(404);
    // A later day of traffic, decided with the model.
    await produceSimulated(ns, { ...DEFAULT_SIM_OPTIONS, seed: 33, count: 1_500, startTime: Date.parse('2026-01-05T00:00:00Z') });
    await (
      await startIngest(ns.cfg, testLogger, { drain: true })
    ).done;
    const res = await app.inject({ url: '/api/v1/models/drift?sample=1000', headers: auth('sre') });
    expect(res.statusCode, res.body).toBe(200);
    const d = res.json();
    expect(d.model_version).toBe(model.version);
    expect(d.sample).toBe(1_000);
    expect(d.features.length).toBe(model.features.length);
    const psis = d.features.map((f: { psi: number }) => f.psi);
    expect(psis).toEqual([...psis].sort((a, b) => b - a));
    expect(d.score_psi).toBeGreaterThanOrEqual(0);
    // Over time: by day, the simulated day is a bucket holding exactly the model's decisions of that day.
    const all = (await app.inject({ url: '/api/v1/models/drift?sample=5000', headers: auth('sre') })).json();
    const byDay = await app.inject({ url: '/api/v1/models/drift/history?sample=5000&bucket=day', headers: auth('analyst') });
    expect(byDay.statusCode, byDay.body).toBe(200);
    const days = byDay.json();
    const [[ofDay]] = await pool.query<RowDataPacket[]>(
      "SELECT COUNT(*) AS n FROM transactions WHERE model_version = ? AND model_score IS NOT NULL AND event_time >= '2026-01-05' AND event_time < '2026-01-06'",
      [model.version],
    );
    expect(days.buckets.find((b: { start: string }) => b.start === '2026-01-05T00:00:00.000Z')).toMatchObject({
      decisions: Number(ofDay?.n),
      score_psi: expect.any(Number),
    });
    expect(Number(ofDay?.n)).toBeGreaterThan(1_000);
    // By hour: ordered, each at least 100 decisions, never more than were sampled, ten features at most.
    const byHour = (await app.inject({ url: '/api/v1/models/drift/history?sample=5000', headers: auth('sre') })).json();
    expect(byHour.bucket).toBe('hour');
    const starts = byHour.buckets.map((b: { start: string }) => b.start);
    expect(starts).toEqual([...starts].sort());
    for (const b of byHour.buckets) {
      expect(b.decisions).toBeGreaterThanOrEqual(100);
      expect(b.features.length).toBeLessThanOrEqual(10);
      expect(Date.parse(b.start) % 3_600_000).toBe(0);
    }
    expect(byHour.buckets.reduce((n: number, b: { decisions: number }) => n + b.decisions, 0)).toBeLessThanOrEqual(all.sample);
    expect((await app.inject({ url: '/api/v1/models/drift/history?bucket=week', headers: auth('sre') })).statusCode).toBe(400);
    expect((await app.inject({ url: '/api/v1/models', headers: auth('sre') })).json()[0]).toMatchObject({
      version: model.version,
      state: 'active',
    });

    // Shadow, promote and roll back through the API (admin), each audited.
    const second = await trainModel(
      pool,
      ns.cfg.state.windows,
      { trees: 50, sampleSize: 256, seed: 2, alertRate: 0.01 },
      () => {},
    );
    await registerModel(pool, second, 'test');
    const post = (url: string, role: Role = 'admin') =>
      app.inject({ method: 'POST', url, headers: auth(role), payload: { reason: 'api test' } });
    expect((await post(`/api/v1/models/${second.version}/shadow`, 'sre')).statusCode).toBe(403);
    expect((await post(`/api/v1/models/${second.version}/shadow`)).json()).toEqual({ shadow: second.version, replaced: null });
    // Backtested first with the rules in force: what the second model changes, no segment flagged here.
    expect((await post(`/api/v1/models/${second.version}/promote`)).json()).toEqual({
      active: second.version,
      previous: model.version,
      check: { summary: expect.stringMatching(/^check: [\d,]+ of [\d,]+ decisions would change/), flagged: expect.any(Array) },
    });
    const again = await post(`/api/v1/models/${second.version}/promote`);
    expect(again.statusCode).toBe(409);
    expect(again.json().detail).toMatch(/already active/);
    expect((await post('/api/v1/models/rollback')).json()).toEqual({ from: second.version, to: model.version });
    const [audit] = await pool.query<RowDataPacket[]>(
      "SELECT action, actor FROM audit_log WHERE actor LIKE 'test-admin%' AND action LIKE 'model.%' ORDER BY id",
    );
    expect(audit.map((a) => String(a.action))).toHaveLength(3);
  }, 120_000);

  it('streams alerts raised after the client connected, each once, late commits and bursts included; resumes after Last-Event-ID; ends when the app closes', async () => {
    const streaming = await makeApp();
    const address = await streaming.listen({ host: '127.0.0.1', port: 0 });
    const raise = async (ids: string[], createdAt: (i: number) => Date) => {
      await insertDecidedAlerts(
        pool,
        ids.map((id, i) => ({
          alertId: id,
          transactionId: `tx-live-${id}`,
          accountId: 'acc-live',
          eventTime: new Date(),
          createdAt: createdAt(i),
          summary: 'live',
        })),
      );
    };
    const hex = (prefix: string, n: number) => `${prefix}${n.toString(16).padStart(32 - prefix.length, '0')}`;
    const open = async (headers: Record<string, string> = {}) => {
      const controller = new AbortController();
      const res = await fetch(`${address}/api/v1/alerts/stream?poll_ms=1000`, {
        headers: { ...auth('analyst'), ...headers },
        signal: controller.signal,
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      const state = { text: '', closed: false };
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
      const until = async (ok: () => boolean, what: string) => {
        for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 50));
        expect(ok(), what).toBe(true);
      };
      const ids = () => [...state.text.matchAll(/"alert_id":"([0-9a-f]{32})"/g)].map((m) => m[1] as string);
      const lastId = () => [...state.text.matchAll(/^id: (\S+)$/gm)].pop()?.[1] ?? '';
      await until(() => state.text.includes(': txmon alerts since'), 'the stream opened');
      return { controller, state, until, ids, lastId };
    };
    try {
      const s1 = await open();
      const now = Date.now();
      // Raised before the client connected: not sent.
      await raise(['e'.repeat(32)], () => new Date(now - 60_000));
      // A newer alert commits first, an older one (raised after connecting) later: both go out.
      await raise(['a'.repeat(32)], () => new Date(now + 2_000));
      await s1.until(() => s1.ids().includes('a'.repeat(32)), 'the newer alert');
      await raise(['b'.repeat(32)], () => new Date(now + 1_000));
      // A burst larger than a page of the stream's query.
      const burst = Array.from({ length: 1_200 }, (_, i) => hex('c', i));
      await raise(burst, (i) => new Date(now + 3_000 + i));
      await s1.until(() => s1.ids().length >= 1_202, 'every alert of the burst');
      await new Promise((r) => setTimeout(r, 1_200));
      const got = s1.ids();
      expect(new Set(got).size).toBe(got.length);
      expect(got).not.toContain('e'.repeat(32));
      expect(new Set(got)).toEqual(new Set(['a'.repeat(32), 'b'.repeat(32), ...burst]));
      const resumeFrom = s1.lastId();
      s1.controller.abort();

      // Resuming after the last event: nothing repeated, the next alert sent.
      const s2 = await open({ 'last-event-id': resumeFrom });
      await raise(['d'.repeat(32)], () => new Date(now + 10_000));
      await s2.until(() => s2.ids().includes('d'.repeat(32)), 'the alert after the resumed one');
      await new Promise((r) => setTimeout(r, 1_200));
      expect(s2.ids()).toEqual(['d'.repeat(32)]);

      // Closing the app ends its open streams instead of waiting for their clients.
      const started = Date.now();
      await streaming.close();
      // Without this, closing would wait for the client to go; it may still wait out the client's keep-alive (undici: 4 s).
      expect(Date.now() - started).toBeLessThan(6_000);
      await s2.until(() => s2.state.closed, 'the stream ended with the app');
    } finally {
      await streaming.close();
      await deleteDecidedAlerts(pool, 'acc-live');
    }
  });
});

describe('backtests', () => {
  it('an admin backtests the rules in force with the active model: a consistent report; others are refused; unknown versions are 404', async () => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/backtests', headers: auth('admin'), payload: { days: 30 } });
    expect(res.statusCode, res.body).toBe(200);
    const r = res.json();
    const kinds = ['ALLOW', 'REVIEW', 'BLOCK'] as const;
    let total = 0;
    let off = 0;
    for (const a of kinds)
      for (const b of kinds) {
        total += r.transitions[a][b];
        if (a !== b) off += r.transitions[a][b];
      }
    expect(r.transactions).toBeGreaterThan(1_000);
    expect(total).toBe(r.transactions);
    expect(r.changed).toBe(off);
    expect(r.changed_sample).toHaveLength(Math.min(200, r.changed));
    for (const c of r.changed_sample) expect(c.from).not.toBe(c.to);
    expect(Date.parse(r.range.from)).toBeLessThanOrEqual(Date.parse(r.range.to));
    // Rules alone: the model's verdicts gone, whatever decided with one changes or keeps its decision.
    const alone = (
      await app.inject({ method: 'POST', url: '/api/v1/backtests', headers: auth('admin'), payload: { model: 'none', days: 30 } })
    ).json();
    expect(alone.candidate.model_version).toBeNull();
    expect(alone.transactions).toBe(r.transactions);

    expect(
      (await app.inject({ method: 'POST', url: '/api/v1/backtests', headers: auth('analyst'), payload: {} })).statusCode,
    ).toBe(403);
    const unknown = await app.inject({
      method: 'POST',
      url: '/api/v1/backtests',
      headers: auth('admin'),
      payload: { rules: 'nope@000000000000' },
    });
    expect(unknown.statusCode, unknown.body).toBe(404);
    expect(
      (await app.inject({ method: 'POST', url: '/api/v1/backtests', headers: auth('admin'), payload: { days: 0 } })).statusCode,
    ).toBe(400);
  });
});

describe('fuzzed inputs', () => {
  it('never answer with a 5xx', async () => {
    const routes = ['/api/v1/alerts', '/api/v1/reconciliation/exceptions', '/api/v1/reconciliation/summary'];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...routes),
        fc.dictionary(
          fc.constantFrom(
            'status',
            'decision',
            'severity',
            'account_id',
            'rule_id',
            'model_version',
            'from',
            'to',
            'cursor',
            'limit',
            'date',
            'open',
            'x',
          ),
          fc.oneof(
            fc.string(),
            fc.integer().map(String),
            fc.date().map((d) => (Number.isNaN(d.getTime()) ? 'x' : d.toISOString())),
          ),
        ),
        async (route, query) => {
          const res = await app.inject({ url: route, query, headers: auth('admin') });
          expect(res.statusCode, `${route}?${new URLSearchParams(query).toString()}: ${res.body}`).toBeLessThan(500);
        },
      ),
      { numRuns: 150 },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(
          '/api/v1/alerts/',
          '/api/v1/transactions/',
          '/api/v1/accounts/',
          '/api/v1/reconciliation/exceptions/',
          '/api/v1/models/',
        ),
        fc.string({ minLength: 1, maxLength: 80 }),
        fc.constantFrom('', '/aggregates', '/resolve', '/accept', '/promote', '/shadow', '/acknowledge'),
        fc.constantFrom('GET', 'POST'),
        async (base, segment, suffix, method) => {
          const res = await app.inject({
            method: method as 'GET' | 'POST',
            url: `${base}${encodeURIComponent(segment)}${suffix}`,
            headers: { ...auth('admin'), 'content-type': 'application/json' },
            payload: method === 'POST' ? '{}' : undefined,
          });
          expect(res.statusCode, `${method} ${base}${segment}${suffix}: ${res.body}`).toBeLessThan(500);
        },
      ),
      { numRuns: 200 },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('acknowledge', 'resolve', 'notes'),
        fc.oneof(fc.stringMatching(/^[0-9a-f]{32}$/), fc.string()),
        fc.jsonValue(),
        async (action, id, body) => {
          const res = await app.inject({
            method: 'POST',
            url: `/api/v1/alerts/${encodeURIComponent(id)}/${action}`,
            headers: { ...auth('analyst'), 'content-type': 'application/json' },
            payload: JSON.stringify(body),
          });
          expect(res.statusCode, `${action} ${id}: ${res.body}`).toBeLessThan(500);
        },
      ),
      { numRuns: 150 },
    );
  });
});
