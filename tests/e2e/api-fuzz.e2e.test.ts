// Issue 23, "bad input at volume": 10,000 fuzzed requests (paths, path parameters, queries, bodies,
// headers, keys) over real HTTP to the API as `txmon run api` starts it (startApi), while an ingest
// process decides a live stream beside it. No answer is a 5xx other than a 503 with Retry-After, the
// ingest stays up and the stream ends in MySQL exactly as without the fuzzing.
import fc from 'fast-check';
import { Agent, request } from 'node:http';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, revokeApiKey, type Role } from '../../dashboard-api/auth/api-keys.ts';
import { routeRoles } from '../../dashboard-api/role-table.ts';
import { startApi, type ApiServer } from '../../dashboard-api/server.ts';
import { groupLag } from '../../platform/batch-consumer.ts';
import { createKafka } from '../../platform/kafka.ts';
import { createPool, type Pool } from '../../platform/mysql.ts';
import { sleep } from '../../platform/retry.ts';
import { topicName } from '../../topics/topics.ts';
import { createNamespace, testLogger, type TestNamespace } from '../helpers/namespace.ts';
import { expectEndStateOf, produceSimulated, readEndState, spawnIngest, type RunningIngest } from '../helpers/pipeline.ts';
import { slowStep } from '../helpers/slow-step.ts';

/** The floor. */
const REQUESTS = 10_000;
/** Requests in flight at once (one keep-alive connection each). */
const CONCURRENCY = 16;
/** A request not answered by then is a failure (a hung route), except an event stream, cut at its headers. */
const REQUEST_TIMEOUT_MS = 10_000;

let ns: TestNamespace;
let pool: Pool;
let api: ApiServer;
let ingest: RunningIngest | undefined;
const keys = {} as Record<Role, string>;
let revoked = '';

beforeAll(async () => {
  // The limits off (every request comes from one address, many with wrong keys): the routes are
  // what is fuzzed here; tests/integration/api-security.test.ts holds the limits.
  ns = await slowStep('create namespace', () =>
    createNamespace({
      TXMON_API_RATE_LIMIT_PER_MINUTE: '10000000',
      TXMON_API_RATE_LIMIT_PER_ADDRESS_PER_MINUTE: '10000000',
      TXMON_API_AUTH_FAILURES_PER_MINUTE: '10000000',
      // A slower ingest, so that it is still deciding while the requests arrive.
      TXMON_INGEST_MAX_BYTES_PER_PARTITION: '16384',
      TXMON_INGEST_CONCURRENCY: '1',
    }),
  );
  pool = createPool(ns.cfg);
  for (const role of ['analyst', 'sre', 'admin'] as const)
    keys[role] = (await createApiKey(pool, `fuzz-${role}`, role, 'test')).key;
  const gone = await createApiKey(pool, 'fuzz-revoked', 'admin', 'test');
  await revokeApiKey(pool, gone.keyId, 'test');
  revoked = gone.key;
  api = await startApi({ ...ns.cfg, api: { ...ns.cfg.api, keyCacheMs: 0 } }, testLogger, { host: '127.0.0.1', port: 0 });
}, 180_000);

afterAll(async () => {
  ingest?.child.kill('SIGKILL');
  await api?.close();
  await pool?.end();
  await ns?.cleanup();
});

interface Fuzzed {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer | null;
}

/** Path parameters: real ids some of the time, everything else the rest. */
function paramArb(realIds: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom<string>(...realIds) },
    { weight: 3, arbitrary: fc.string({ maxLength: 40 }).map(encodeURIComponent) },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }).map(encodeURIComponent) },
    { weight: 1, arbitrary: fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String) },
    {
      weight: 1,
      arbitrary: fc.constantFrom<string>('%', '%zz', '%00', '..', '%2e%2e%2f', 'null', '-1', '1e999', 'a'.repeat(600), '%20'),
    },
  );
}

const QUERY_KEYS = [
  'status',
  'decision',
  'severity',
  'rule_id',
  'model_version',
  'account_id',
  'from',
  'to',
  'cursor',
  'limit',
  'date',
  'currency',
  'open',
  'since',
  'version',
  '__proto__',
  'x',
];

const queryValueArb = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.integer().map(String),
  fc.double().map(String),
  fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
  fc.constantFrom('', 'OPEN', 'ALERT', 'EUR', '2026-12-01', 'true', '0', '-1', '1000000', 'a'.repeat(5_000)),
);

const bodyArb: fc.Arbitrary<{ type: string | null; data: Buffer | null }> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => ({ type: 'application/json', data: Buffer.from(JSON.stringify(v)) })),
  },
  {
    weight: 3,
    arbitrary: fc
      .record(
        {
          note: fc.string(),
          reason: fc.string(),
          outcome: fc.constantFrom('fraud', 'legitimate', 'x'),
          revision: fc.integer(),
          key: fc.string(),
        },
        { requiredKeys: [] },
      )
      .map((v) => ({ type: 'application/json', data: Buffer.from(JSON.stringify(v)) })),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }).map((s) => ({ type: 'application/json', data: Buffer.from(s) })) },
  {
    weight: 1,
    arbitrary: fc.uint8Array({ maxLength: 300 }).map((b) => ({ type: 'application/octet-stream', data: Buffer.from(b) })),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom('text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x')
      .map((type) => ({ type, data: Buffer.from('a=1&b') })),
  },
  { weight: 1, arbitrary: fc.constant({ type: 'application/json', data: Buffer.alloc(2 * 1024 * 1024, 0x20) }) },
  { weight: 1, arbitrary: fc.constant({ type: null, data: null }) },
);

function authArb(): fc.Arbitrary<Record<string, string>> {
  return fc.oneof(
    {
      weight: 6,
      arbitrary: fc.constantFrom<Role>('analyst', 'sre', 'admin').map((r) => ({ authorization: `Bearer ${keys[r]}` })),
    },
    { weight: 1, arbitrary: fc.constant({ authorization: `Bearer ${revoked}` }) },
    { weight: 1, arbitrary: fc.constant({}) },
    {
      weight: 2,
      arbitrary: fc
        .oneof(
          fc.string({ maxLength: 80 }).map((s) => `Bearer ${s}`),
          fc.constantFrom('Bearer', 'Basic YWRtaW46YWRtaW4=', `bearer ${'k'.repeat(4_000)}`, 'Bearer txk_000000000000_AAAA'),
          fc.string({ maxLength: 40 }),
        )
        // What Node's client itself refuses to send (control characters) is not a request.
        .filter((v) => /^[\x20-\x7e]*$/.test(v))
        .map((v) => ({ authorization: v })),
    },
  );
}

const extraHeadersArb = fc.dictionary(
  fc.constantFrom(
    'accept',
    'x-forwarded-for',
    'cookie',
    'origin',
    'x-csrf-token',
    'last-event-id',
    'accept-encoding',
    'x-request-id',
    'if-none-match',
  ),
  fc.string({ maxLength: 60 }).filter((v) => /^[\x20-\x7e]*$/.test(v)),
  { maxKeys: 3 },
);

function requestArb(routes: Array<{ method: string; path: string }>, realIds: readonly string[]): fc.Arbitrary<Fuzzed> {
  const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'];
  const routeArb = fc.oneof(
    { weight: 9, arbitrary: fc.constantFrom(...routes) },
    {
      weight: 1,
      arbitrary: fc.record({
        method: fc.constantFrom(...METHODS),
        path: fc.oneof(
          fc.webPath(),
          fc.constantFrom('/', '/api', '/api/v1/', '/assets/../../etc/passwd', '//x', '/api/v1/alerts/'),
        ),
      }),
    },
  );
  return fc
    .record({
      route: routeArb,
      otherMethod: fc.option(fc.constantFrom(...METHODS), { freq: 8 }),
      params: fc.array(paramArb(realIds), { minLength: 3, maxLength: 3 }),
      query: fc.dictionary(fc.constantFrom(...QUERY_KEYS), queryValueArb, { maxKeys: 4 }),
      auth: authArb(),
      extra: extraHeadersArb,
      body: bodyArb,
    })
    .map(({ route, otherMethod, params, query, auth, extra, body }) => {
      let i = 0;
      const filled = route.path.replace(/\{[^}]+\}/g, () => params[i++ % params.length] ?? 'x');
      // An origin-form target starts with '/' (anything else is the HTTP parser's, tested elsewhere).
      const path = filled.startsWith('/') ? filled : `/${filled}`;
      const qs = new URLSearchParams(query).toString();
      const method = otherMethod ?? route.method;
      const withBody = method !== 'GET' && method !== 'HEAD' && body.data !== null;
      return {
        method,
        path: qs ? `${path}?${qs}` : path,
        headers: { ...extra, ...auth, ...(withBody && body.type ? { 'content-type': body.type } : {}) },
        body: withBody ? body.data : null,
      };
    });
}

interface Answer {
  status: number;
  retryAfter: string | undefined;
  body: string;
}

/** Sends one request over the agent; an event stream is cut once its headers arrive. */
function send(agent: Agent, port: number, f: Fuzzed): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, agent, method: f.method, path: f.path, headers: f.headers, timeout: REQUEST_TIMEOUT_MS },
      (res) => {
        const status = res.statusCode ?? 0;
        const retryAfter = res.headers['retry-after'];
        if (String(res.headers['content-type']).startsWith('text/event-stream')) {
          res.destroy();
          resolve({ status, retryAfter, body: '(event stream)' });
          return;
        }
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status, retryAfter, body: Buffer.concat(chunks).toString('utf8', 0, 300) }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end(f.body ?? undefined);
  });
}

describe('the API under 10,000 fuzzed requests while the pipeline runs', () => {
  it('answers every one without a 5xx (a 503 only with Retry-After), the ingest stays up and its end state is exact', async () => {
    const sim = await slowStep('produce transactions', () => produceSimulated(ns, { seed: 23, count: 30_000 }));
    ingest = spawnIngest(ns, []);
    const run = ingest;
    // Fuzz once it is deciding, with real alert and transaction ids to aim at.
    let realIds: string[] = [];
    for (let i = 0; i < 600 && realIds.length < 20; i++) {
      await sleep(100);
      const [rows] = await pool.query<RowDataPacket[]>(
        `(SELECT alert_id AS id FROM alerts ORDER BY alert_id LIMIT 10) UNION ALL (SELECT transaction_id FROM transactions LIMIT 10)`,
      );
      realIds = rows.map((r) => String(r.id));
    }
    expect(realIds.length, run.output().slice(-3_000)).toBeGreaterThanOrEqual(10);
    const stored = async () => Number((await pool.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM transactions'))[0][0]?.n);
    const storedBefore = await stored();

    const routes = (await routeRoles()).map(({ method, path }) => ({ method, path }));
    const requests = fc.sample(requestArb(routes, [...realIds, 'acct-000001', 'EUR', '1']), { numRuns: REQUESTS, seed: 2323 });
    const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const port = Number(new URL(api.url).port);
    const statuses = new Map<number, number>();
    const failures: string[] = [];
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < requests.length) {
          const f = requests[next++] as Fuzzed;
          let a: Answer;
          try {
            a = await send(agent, port, f);
          } catch (err) {
            failures.push(`${f.method} ${f.path.slice(0, 200)}: ${(err as Error).message}`);
            continue;
          }
          statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
          if (a.status >= 500 && !(a.status === 503 && a.retryAfter !== undefined))
            failures.push(`${f.method} ${f.path.slice(0, 200)} → ${a.status}: ${a.body}`);
        }
      }),
    );
    agent.destroy();
    const seconds = (performance.now() - started) / 1000;
    const summary = [...statuses]
      .sort(([a], [b]) => a - b)
      .map(([s, n]) => `${s}: ${n}`)
      .join(', ');
    console.info(`api fuzz: ${REQUESTS} requests in ${seconds.toFixed(1)} s (${summary})`);
    expect(failures, summary).toEqual([]);
    expect([...statuses.values()].reduce((a, b) => a + b, 0)).toBe(REQUESTS);
    // The fuzzing reached the routes, not only the key check: answers of every kind.
    const count = (pred: (s: number) => boolean) => [...statuses].filter(([s]) => pred(s)).reduce((a, [, n]) => a + n, 0);
    expect(count((s) => s >= 200 && s < 300)).toBeGreaterThan(REQUESTS * 0.05);
    for (const s of [400, 401, 403, 404]) expect(statuses.get(s) ?? 0, `${s} answers (${summary})`).toBeGreaterThan(0);

    // The ingest was deciding while the requests arrived, and is still up.
    expect(await stored()).toBeGreaterThan(storedBefore);
    expect(run.child.exitCode, run.output().slice(-3_000)).toBeNull();
    const probe = await fetch(`${api.url}/readyz`);
    expect(probe.status).toBe(200);

    // It ends where it would have without the fuzzing.
    const admin = createKafka(ns.cfg, testLogger).admin();
    await admin.connect();
    const topic = topicName(ns.cfg.topicNamespace, 'transactions');
    for (let i = 0; i < 900 && (await groupLag(admin, ns.cfg.ingest.groupId, topic)) > 0; i++) await sleep(100);
    await admin.disconnect();
    run.child.kill('SIGTERM');
    expect(await run.exited, run.output().slice(-3_000)).toBe(0);
    expectEndStateOf(await readEndState(ns), sim);
  }, 300_000);
});
