// Probe and scrape paths against the real broker and MariaDB (issue 16, items 5, 13, 14): /metrics,
// /readyz and the pipeline view answer within 1 s whatever Kafka does (a missing dead-letter topic
// made a scrape wait 26-31 s; issue 23 asks for 1 s: a caller waits 500 ms, the read goes on), concurrent callers share one read, the last value is served with its
// age; the public /readyz says ready or not and nothing else; errors raised before routing and the
// processors' failed scrapes answer as generic problem details.
import type { FastifyInstance } from 'fastify';
import Fastify from 'fastify';
import { Gauge, Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, type Role } from '../../dashboard-api/auth/api-keys.ts';
import { buildApp } from '../../dashboard-api/app.ts';
import { connect } from 'node:net';
import errorsPlugin, { clientErrorHandler, frameworkErrors } from '../../dashboard-api/plugins/errors.ts';
import { createApiMetrics } from '../../dashboard-api/plugins/metrics.ts';
import { dependencyProbes, type Probe } from '../../dashboard-api/routes/health.ts';
import { deadLetterRecords } from '../../dashboard-api/routes/pipeline.ts';
import { probeGroupLag } from '../../platform/batch-consumer.ts';
import { startProbeServer } from '../../platform/http-probe.ts';
import { createKafka } from '../../platform/kafka.ts';
import { createPool, type Pool } from '../../platform/mysql.ts';
import { createProbeAdmin } from '../../platform/probe-admin.ts';
import { topicName } from '../../topics/topics.ts';
import { createNamespace, testLogger, type TestNamespace } from '../helpers/namespace.ts';
import { loadConfig } from '../../config/config.ts';

/** The default limits without the per-address ones (every request here comes from one address). */
const UNLIMITED_GUARD = { ...loadConfig({}).apiGuard, rateLimitPerAddressPerMinute: 1_000_000, authFailuresPerMinute: 1_000_000 };

let ns: TestNamespace;
let pool: Pool;
/** The API's ordinary admin: kafkajs retries (8 times, up to 10 s apart). */
let retrying: ReturnType<ReturnType<typeof createKafka>['admin']>;
/** The probe admin: no retries, 2 s request timeout. */
let probeAdmin: ReturnType<typeof createProbeAdmin>;
const keys = {} as Record<Role, string>;
const apps: FastifyInstance[] = [];
const auth = (role: Role) => ({ authorization: `Bearer ${keys[role]}` });

/** Milliseconds a call takes. */
async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

beforeAll(async () => {
  ns = await createNamespace();
  pool = createPool(ns.cfg);
  retrying = createKafka(ns.cfg, testLogger).admin();
  await retrying.connect();
  probeAdmin = createProbeAdmin(ns.cfg);
  await probeAdmin.connect();
  for (const role of ['analyst', 'sre', 'admin'] as const)
    keys[role] = (await createApiKey(pool, `probe-${role}`, role, 'test')).key;
}, 180_000);

afterAll(async () => {
  for (const a of apps) await a.close();
  await probeAdmin?.disconnect();
  await retrying?.disconnect();
  await pool?.end();
  await ns?.cleanup();
});

async function app(deps: { metrics?: ReturnType<typeof createApiMetrics>; probes?: Probe[]; pipelineTopics?: string[] }) {
  const a = await buildApp(
    {
      pool,
      logger: testLogger,
      metrics: deps.metrics ?? createApiMetrics(null),
      probes: deps.probes ?? [],
      ...(deps.pipelineTopics && {
        pipeline: {
          admin: retrying,
          topology: {
            groups: deps.pipelineTopics.map((topic) => ({ group: ns.cfg.ingest.groupId, topics: [topic] })),
            deadLetterTopics: [topicName(ns.cfg.topicNamespace, 'transactionsDlq'), `${ns.id}.never-created.dlq`],
          },
        },
      }),
    },
    { rateLimitPerMinute: 100_000, keyCacheMs: 0, guard: UNLIMITED_GUARD },
  );
  apps.push(a);
  await a.ready();
  return a;
}

describe('/metrics: a deadline on every Kafka read', () => {
  it('a missing DLQ topic read by a retrying admin: every scrape answers within 1 s, concurrent scrapes share one read, the lag is served with its age', async () => {
    const missing = `${ns.id}.missing.dlq`;
    let deadLetterReads = 0;
    let lagReads = 0;
    const transactions = topicName(ns.cfg.topicNamespace, 'transactions');
    // What server.ts did: an admin that retries (8 times, up to 10 s apart), asked for a missing topic.
    const own = createKafka(ns.cfg, testLogger).admin();
    await own.connect();
    const metrics = createApiMetrics({
      lag: async () => {
        lagReads++;
        return [
          {
            group: ns.cfg.ingest.groupId,
            topic: transactions,
            lag: await probeGroupLag(probeAdmin, ns.cfg.ingest.groupId, transactions),
          },
        ];
      },
      deadLetters: async () => {
        deadLetterReads++;
        const offsets = await own.fetchTopicOffsets(missing);
        return [{ topic: missing, records: offsets.length }];
      },
    });
    const a = await app({ metrics });
    for (let i = 0; i < 3; i++) {
      const { ms, value: res } = await timed(() => a.inject({ url: '/metrics', headers: auth('sre') }));
      expect(res.statusCode).toBe(200);
      expect(ms, `scrape ${i}`).toBeLessThan(1_000);
      // The lag (a topic that exists) is there, with its age; the DLQ reading has none yet.
      expect(res.body).toMatch(/txmon_pipeline_consumer_lag_records\{group="[^"]+",topic="[^"]+"\} 0/);
      expect(res.body).toMatch(/txmon_api_probe_value_age_seconds\{reading="lag"\} [\d.e-]+/);
      expect(res.body).not.toMatch(/txmon_pipeline_dead_letters_records\{/);
    }
    const { ms, value: all } = await timed(() =>
      Promise.all(Array.from({ length: 8 }, () => a.inject({ url: '/metrics', headers: auth('sre') }))),
    );
    expect(all.map((r) => r.statusCode)).toEqual(Array(8).fill(200));
    expect(ms).toBeLessThan(1_000);
    // One read of the missing topic, still retrying in the background, for all 11 scrapes; the
    // lag read once per freshness period (5 s), not once per scrape.
    expect(deadLetterReads).toBe(1);
    expect(lagReads).toBe(1);
    // Past the read's 2 s deadline it is counted as a timeout, once.
    await new Promise((resolve) => setTimeout(resolve, 2_200));
    const late = await a.inject({ url: '/metrics', headers: auth('sre') });
    expect(late.body).toMatch(/txmon_api_probe_reads_total\{reading="dead_letters",outcome="timeout"\} 1/);
    expect(deadLetterReads).toBe(1);
    await own.disconnect();
  }, 30_000);

  it('the probe admin gives up on a missing topic within the deadline (no retry loop); the probe reads never ask for a missing topic, so the admin keeps working', async () => {
    // A client of its own: asking kafkajs for a missing topic spoils the client's later metadata refreshes.
    const spoilt = createProbeAdmin(ns.cfg);
    await spoilt.connect();
    const { ms, value: err } = await timed(() => spoilt.fetchTopicOffsets(`${ns.id}.missing.too`).catch((e: unknown) => e));
    await spoilt.disconnect();
    expect(err).toBeInstanceOf(Error);
    expect(ms).toBeLessThan(2_500);
    const dlq = topicName(ns.cfg.topicNamespace, 'transactionsDlq');
    const { ms: ms2, value } = await timed(() => deadLetterRecords(probeAdmin, [dlq, `${ns.id}.missing.dlq`]));
    expect(value).toEqual([
      { topic: dlq, records: 0 },
      { topic: `${ns.id}.missing.dlq`, records: 0 },
    ]);
    expect(ms2).toBeLessThan(2_000);
    const transactions = topicName(ns.cfg.topicNamespace, 'transactions');
    await expect(probeGroupLag(probeAdmin, 'g', `${ns.id}.missing.dlq`)).rejects.toThrow(/does not exist/);
    expect(await probeGroupLag(probeAdmin, 'g', transactions)).toBe(0);
  });
});

describe('/readyz: public status only, detail behind a role, each check behind a deadline', () => {
  it('answers the public with its status alone; sre and admin see the checks; others are refused', async () => {
    const probes = dependencyProbes({
      pool,
      admin: probeAdmin,
      lag: {
        read: () => probeGroupLag(probeAdmin, ns.cfg.ingest.groupId, topicName(ns.cfg.topicNamespace, 'transactions')),
        max: 10,
      },
    });
    const a = await app({ probes });
    const pub = await a.inject({ url: '/readyz' });
    expect(pub.statusCode).toBe(200);
    expect(pub.json()).toEqual({ status: 'ready' });
    expect(pub.body).not.toMatch(/broker|mysql|lag/);
    const detail = await a.inject({ url: '/readyz/detail', headers: auth('sre') });
    expect(detail.statusCode).toBe(200);
    expect(detail.json().checks.map((c: { name: string; ok: boolean; detail: string }) => [c.name, c.ok, c.detail])).toEqual([
      ['mysql', true, 'reachable'],
      ['kafka', true, '1 broker(s)'],
      ['consumer-lag', true, 'ingest lag 0 records'],
    ]);
    for (const c of detail.json().checks) expect(c.last_ok_seconds_ago).toBeLessThan(2);
    expect((await a.inject({ url: '/readyz/detail', headers: auth('admin') })).statusCode).toBe(200);
    expect((await a.inject({ url: '/readyz/detail', headers: auth('analyst') })).statusCode).toBe(403);
    expect((await a.inject({ url: '/readyz/detail' })).statusCode).toBe(401);
  });

  it('a dependency that never answers: 503 with Retry-After within 1 s, every time, one check in flight for all callers; the detail says which, never the driver message', async () => {
    let calls = 0;
    const hung: Probe = { name: 'kafka', check: () => (calls++, new Promise<string>(() => {})) };
    const failing: Probe = {
      name: 'redis',
      check: () => Promise.reject(new Error('connect ECONNREFUSED 10.1.2.3:6379 user=txmon')),
    };
    const a = await app({ probes: [hung, failing] });
    const started = performance.now();
    const { ms, value: all } = await timed(() => Promise.all(Array.from({ length: 10 }, () => a.inject({ url: '/readyz' }))));
    expect(ms).toBeLessThan(1_000);
    for (const r of all) {
      expect(r.statusCode).toBe(503);
      expect(r.headers['retry-after']).toBe('1');
      expect(r.json()).toEqual({ status: 'not-ready' });
    }
    // Before the check's 2 s deadline it has no verdict yet; past it, it is a timeout.
    const early = await a.inject({ url: '/readyz/detail', headers: auth('sre') });
    expect(early.json().checks[0]).toEqual({ name: 'kafka', ok: false, detail: 'not checked yet', last_ok_seconds_ago: null });
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, 2_050 - (performance.now() - started))));
    const { ms: again, value: d } = await timed(() => a.inject({ url: '/readyz/detail', headers: auth('sre') }));
    expect(again).toBeLessThan(1_000);
    expect(d.statusCode).toBe(503);
    expect(d.json().checks).toEqual([
      { name: 'kafka', ok: false, detail: 'no answer within 2000 ms', last_ok_seconds_ago: null },
      { name: 'redis', ok: false, detail: 'not answering (the API log has the error)', last_ok_seconds_ago: null },
    ]);
    expect(d.body).not.toContain('10.1.2.3');
    expect(calls).toBe(1);
  }, 20_000);
});

describe('/api/v1/pipeline: a deadline, the last reading with its age', () => {
  it('answers with the Kafka reading and its age; a missing topic gives a 503 with Retry-After within 1 s (not a 30 s wait) and leaves the admin working', async () => {
    const transactions = topicName(ns.cfg.topicNamespace, 'transactions');
    const ok = await app({ pipelineTopics: [transactions] });
    const res = await ok.inject({ url: '/api/v1/pipeline', headers: auth('sre') });
    expect(res.statusCode, res.body).toBe(200);
    const p = res.json();
    expect(p.groups[0].partitions).toHaveLength(6);
    expect(p.dead_letters.map((d: { records: number }) => d.records)).toEqual([0, 0]);
    expect(p.age_seconds.kafka).toBeLessThan(2);
    expect(p.transactions).toEqual({ stored: 0, late: 0, duplicates: 0 });

    const broken = await app({ pipelineTopics: [`${ns.id}.no-such-topic`] });
    const started = performance.now();
    const details: string[] = [];
    // Each call answers within 1 s: while the reading is under way, or once it failed (an error, or
    // past its 2 s deadline), saying so.
    while (performance.now() - started < 2_600) {
      const { ms, value: r } = await timed(() => broken.inject({ url: '/api/v1/pipeline', headers: auth('sre') }));
      expect(ms).toBeLessThan(1_000);
      expect(r.statusCode).toBe(503);
      expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
      details.push(r.json().detail);
    }
    for (const d of details)
      expect(d).toMatch(/first reading of the broker is under way|did not answer within 2000 ms|reading the broker failed/);
    expect(details.at(-1)).toMatch(/did not answer within 2000 ms|reading the broker failed/);
    // The same (retrying) admin still answers for the topics that exist.
    expect((await ok.inject({ url: '/api/v1/pipeline', headers: auth('sre') })).statusCode).toBe(200);
    const fresh = await app({ pipelineTopics: [transactions] });
    expect((await fresh.inject({ url: '/api/v1/pipeline', headers: auth('sre') })).statusCode).toBe(200);
  }, 20_000);
});

describe('errors outside the routes', () => {
  it('a path parameter too long for the router is a 414 problem (frameworkErrors)', async () => {
    const a = Fastify({ frameworkErrors });
    await a.register(errorsPlugin);
    a.get('/x/:id', async () => 'ok');
    const res = await a.inject({ url: `/x/${'a'.repeat(200)}` });
    await a.close();
    expect(res.statusCode).toBe(414);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toEqual({
      type: 'about:blank',
      title: 'URI Too Long',
      status: 414,
      detail: 'a path segment of the URL is too long',
      instance: `/x/${'a'.repeat(200)}`,
    });
  });

  it('a request the HTTP parser refuses is a 400 problem too (clientErrorHandler)', async () => {
    const a = Fastify({ clientErrorHandler });
    await a.register(errorsPlugin);
    a.get('/x', async () => 'ok');
    await a.listen({ host: '127.0.0.1', port: 0 });
    const port = (a.server.address() as { port: number }).port;
    const answer = await new Promise<string>((resolve, reject) => {
      let data = '';
      const socket = connect(port, '127.0.0.1', () => socket.write('GET /x HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n'));
      socket.on('data', (d) => (data += d.toString()));
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
    });
    await a.close();
    expect(answer).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(answer).toContain('Content-Type: application/problem+json');
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toEqual({
      type: 'about:blank',
      title: 'Bad Request',
      status: 400,
      detail: 'the HTTP request could not be parsed',
    });
  });

  it('a query MariaDB stops at its max_statement_time is a 503 problem saying to narrow it, not a 500', async () => {
    const a = Fastify();
    await a.register(errorsPlugin);
    a.get('/slow', async () => (await pool.query('SET STATEMENT max_statement_time = 0.1 FOR SELECT SLEEP(1)'))[0]);
    const res = await a.inject({ url: '/slow' });
    await a.close();
    expect(res.statusCode).toBe(503);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json().detail).toMatch(/longer than its limit; narrow it/);
  });

  it('a dependency that refuses the connection is a 503 with Retry-After (the request can succeed later); a programmer error stays a 500', async () => {
    const a = Fastify();
    await a.register(errorsPlugin);
    // Nothing listens on port 1: the driver's own connection error, as during a MariaDB restart.
    const down = createPool({ ...ns.cfg, mysql: { ...ns.cfg.mysql, port: 1 } });
    a.get('/db', async () => (await down.query('SELECT 1'))[0]);
    a.get('/bug', async () => (null as unknown as { x: number }).x);
    const res = await a.inject({ url: '/db' });
    const bug = await a.inject({ url: '/bug' });
    await a.close();
    await down.end();
    expect(res.statusCode, res.body).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
    expect(res.json().detail).toMatch(/is not answering; retry later/);
    expect(res.body).not.toContain('127.0.0.1');
    expect(bug.statusCode).toBe(500);
    expect(bug.headers['retry-after']).toBeUndefined();
  });

  it('a processor scrape that fails is a generic 500 problem, the error in the log only; one that hangs is a 503 within 2.5 s', async () => {
    const registry = new Registry();
    let mode: 'throw' | 'hang' = 'throw';
    new Gauge({
      name: 'txmon_test_probe_gauge',
      help: 'test',
      registers: [registry],
      collect() {
        if (mode === 'throw') throw new Error('ER_ACCESS_DENIED for txmon@db-7.internal');
        return new Promise<void>(() => {});
      },
    });
    const logged: object[] = [];
    const server = await startProbeServer({
      host: '127.0.0.1',
      port: 0,
      registry,
      ready: () => ({ ok: true, detail: 'consuming' }),
      log: { error: (o) => logged.push(o) },
    });
    try {
      const res = await fetch(`http://127.0.0.1:${server.port}/metrics`);
      expect(res.status).toBe(500);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      const body = await res.text();
      expect(body).not.toContain('db-7');
      expect(JSON.parse(body)).toMatchObject({ type: 'about:blank', title: 'Internal Server Error', status: 500 });
      expect(JSON.stringify(logged)).toContain('db-7.internal');
      mode = 'hang';
      const { ms, value: late } = await timed(() => fetch(`http://127.0.0.1:${server.port}/metrics`));
      expect(late.status).toBe(503);
      expect(ms).toBeLessThan(2_500);
      expect((await fetch(`http://127.0.0.1:${server.port}/nope`)).headers.get('content-type')).toMatch(/problem\+json/);
    } finally {
      await server.close();
    }
  });
});
