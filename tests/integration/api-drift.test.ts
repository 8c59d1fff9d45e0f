// /api/v1/models/drift bounded (issue 16, item 7): a sample above 5,000 needs the admin role, and a
// (model version, sample) is computed once per period whoever asks, concurrent callers sharing the
// computation; against the real MariaDB, Kafka and ingest.
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, type Role } from '../../dashboard-api/auth/api-keys.ts';
import { buildApp } from '../../dashboard-api/app.ts';
import { createApiMetrics } from '../../dashboard-api/plugins/metrics.ts';
import { promote, registerModel } from '../../models/model-registry.ts';
import { trainModel } from '../../models/train.ts';
import { createPool, type Pool } from '../../platform/mysql.ts';
import { startIngest } from '../../processors/ingest/main.ts';
import { DEFAULT_SIM_OPTIONS } from '../../simulator/types.ts';
import { createNamespace, testLogger, type TestNamespace } from '../helpers/namespace.ts';
import { produceSimulated } from '../helpers/pipeline.ts';
import { loadConfig } from '../../config/config.ts';

/** The default limits without the per-address ones (every request here comes from one address). */
const UNLIMITED_GUARD = { ...loadConfig({}).apiGuard, rateLimitPerAddressPerMinute: 1_000_000, authFailuresPerMinute: 1_000_000 };

let ns: TestNamespace;
let pool: Pool;
let app: FastifyInstance;
/** Drift reads of snapshots the API sent to MariaDB. */
let driftReads = 0;
const keys = {} as Record<Role, string>;
const auth = (role: Role) => ({ authorization: `Bearer ${keys[role]}` });

beforeAll(async () => {
  ns = await createNamespace();
  pool = createPool(ns.cfg);
  for (const role of ['analyst', 'sre', 'admin'] as const)
    keys[role] = (await createApiKey(pool, `drift-${role}`, role, 'test')).key;
  // The real pool, counting the drift reads it is given.
  const counting = new Proxy(pool, {
    get(target, prop, receiver) {
      if (prop === 'query')
        return (sql: unknown, ...rest: unknown[]) => {
          if (typeof sql === 'string' && sql.includes('feature_values FROM transactions')) driftReads++;
          return (target.query as (...a: unknown[]) => unknown).call(target, sql, ...rest);
        };
      return Reflect.get(target, prop, receiver) as unknown;
    },
  });
  app = await buildApp(
    { pool: counting, logger: testLogger, metrics: createApiMetrics(null), probes: [] },
    { rateLimitPerMinute: 100_000, keyCacheMs: 0, guard: UNLIMITED_GUARD },
  );
  await app.ready();
}, 180_000);

afterAll(async () => {
  await app?.close();
  await pool?.end();
  await ns?.cleanup();
});

describe('drift', () => {
  it('a sample above 5,000 needs the admin role; within it every reader may ask', async () => {
    const big = await app.inject({ url: '/api/v1/models/drift?sample=20000', headers: auth('analyst') });
    expect(big.statusCode).toBe(403);
    expect(big.json().detail).toMatch(/above 5000 needs the admin role/);
    expect((await app.inject({ url: '/api/v1/models/drift?sample=5001', headers: auth('sre') })).statusCode).toBe(403);
    // Past the cap check: no model yet.
    expect((await app.inject({ url: '/api/v1/models/drift?sample=20000', headers: auth('admin') })).statusCode).toBe(409);
    expect((await app.inject({ url: '/api/v1/models/drift?sample=5000', headers: auth('analyst') })).statusCode).toBe(409);
    expect(driftReads).toBe(0);
  });

  it('computes a (model, sample) once per period: concurrent and later callers share it; another sample or model is computed anew', async () => {
    await produceSimulated(ns, { ...DEFAULT_SIM_OPTIONS, seed: 41, count: 2_000 });
    await (
      await startIngest(ns.cfg, testLogger, { drain: true })
    ).done;
    const model = await trainModel(
      pool,
      ns.cfg.state.windows,
      { trees: 30, sampleSize: 128, seed: 1, alertRate: 0.01 },
      () => {},
    );
    await registerModel(pool, model, 'test');
    await promote(pool, model.version, 'test', 'drift cache test');
    await produceSimulated(ns, { ...DEFAULT_SIM_OPTIONS, seed: 42, count: 600, startTime: Date.parse('2026-01-05T00:00:00Z') });
    await (
      await startIngest(ns.cfg, testLogger, { drain: true })
    ).done;

    const ask = (sample: number) => app.inject({ url: `/api/v1/models/drift?sample=${sample}`, headers: auth('analyst') });
    const all = await Promise.all(Array.from({ length: 6 }, () => ask(500)));
    for (const r of all) expect(r.statusCode, r.body).toBe(200);
    expect(new Set(all.map((r) => r.body)).size).toBe(1);
    expect(driftReads).toBe(1);
    expect((await ask(500)).body).toBe(all[0]?.body);
    expect(driftReads).toBe(1);
    expect((await ask(400)).json().sample).toBe(400);
    expect(driftReads).toBe(2);

    // A promotion changes the key: the new active model's drift is computed, not the old one's served.
    const second = await trainModel(
      pool,
      ns.cfg.state.windows,
      { trees: 30, sampleSize: 128, seed: 2, alertRate: 0.01 },
      () => {},
    );
    await registerModel(pool, second, 'test');
    await promote(pool, second.version, 'test', 'drift cache test');
    const after = await ask(500);
    expect(driftReads).toBe(3);
    // No decision by the new model yet: too few to measure.
    expect(after.statusCode).toBe(409);
  }, 180_000);
});
