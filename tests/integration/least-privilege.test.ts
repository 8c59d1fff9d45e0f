// The real processes run as the least-privilege users `txmon migrate` creates (platform/mysql-users.ts):
// the ingest and reconcile processors drain simulated traffic with the same result as root, and the
// dashboard API does triage, exception resolution and a model promotion. A grant missing from
// ROLE_WRITES fails here, not first in production.
import type { FastifyInstance } from 'fastify';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type MysqlRole, type TxmonConfig } from '../../config/config.ts';
import { buildApp } from '../../dashboard-api/app.ts';
import { createApiKey } from '../../dashboard-api/auth/api-keys.ts';
import { createApiMetrics } from '../../dashboard-api/plugins/metrics.ts';
import { dependencyProbes } from '../../dashboard-api/routes/health.ts';
import { registerModel } from '../../models/model-registry.ts';
import { trainModel } from '../../models/train.ts';
import { createConnection, createPool, type Pool } from '../../platform/mysql.ts';
import { ensureRoleUsers, roleUser } from '../../platform/mysql-users.ts';
import { startIngest } from '../../processors/ingest/main.ts';
import { startReconcile } from '../../processors/reconcile/main.ts';
import { DEFAULT_SIM_OPTIONS } from '../../simulator/types.ts';
import { createNamespace, testLogger, type TestNamespace } from '../helpers/namespace.ts';
import { expectEndStateOf, produceSimulated, readEndState, type Simulated } from '../helpers/pipeline.ts';
import { expectStatusesOf, produceSimulatedSettlements, readReconState } from '../helpers/recon.ts';
import type { SettlementTruthLine } from '../../simulator/settlements.ts';
import type { OpsAlert } from '../../ops/alerts.ts';
import { writeOpsAlerts } from '../../sinks/ops-alerts.sink.ts';

/** The default limits without the per-address ones (every request here comes from one address). */
const UNLIMITED_GUARD = { ...loadConfig({}).apiGuard, rateLimitPerAddressPerMinute: 1_000_000, authFailuresPerMinute: 1_000_000 };

const PASSWORDS: Record<MysqlRole, string> = { ingest: 'lp-ingest-1', reconcile: 'lp-recon-1', api: 'lp-api-1', ops: 'lp-ops-1' };
let ns: TestNamespace;
let admin: TxmonConfig;
let sim: Simulated;
let truth: SettlementTruthLine[];
let adminPool: Pool;
let apiPool: Pool;
let app: FastifyInstance;

/** The namespace's config, connected as the role's user with its password. */
function asRole(role: MysqlRole): TxmonConfig {
  const { host, port, database } = admin.mysql;
  return loadConfig({
    ...process.env,
    ...ns.env,
    TXMON_MYSQL_URL: `mysql://${roleUser(admin, role)}@${host}:${port}/${database}`,
    TXMON_MYSQL_PASSWORD: PASSWORDS[role],
  });
}

beforeAll(async () => {
  ns = await createNamespace();
  admin = loadConfig({
    ...process.env,
    ...ns.env,
    TXMON_MYSQL_USER_PREFIX: ns.id,
    TXMON_MYSQL_INGEST_PASSWORD: PASSWORDS.ingest,
    TXMON_MYSQL_RECONCILE_PASSWORD: PASSWORDS.reconcile,
    TXMON_MYSQL_API_PASSWORD: PASSWORDS.api,
    TXMON_MYSQL_OPS_PASSWORD: PASSWORDS.ops,
  });
  await ensureRoleUsers(admin);
  const simOpts = { ...DEFAULT_SIM_OPTIONS, seed: 41, count: 4_000 };
  sim = await produceSimulated(ns, simOpts);
  truth = (await produceSimulatedSettlements(ns, simOpts)).truth;
  adminPool = createPool(admin);
}, 300_000);

afterAll(async () => {
  await app?.close();
  await apiPool?.end();
  await adminPool?.end();
  const c = await createConnection(admin, { database: false });
  try {
    for (const role of ['ingest', 'reconcile', 'api'] as const)
      await c.query("DROP USER IF EXISTS ?@'%'", [roleUser(admin, role)]);
  } finally {
    await c.end();
  }
  await ns?.cleanup();
});

describe('processes as least-privilege users', () => {
  it('ingest drains as its own user: the same end state as one clean pass', async () => {
    const cfg = asRole('ingest');
    expect(cfg.mysql.user).toBe(`${ns.id}_ingest`);
    await (
      await startIngest(cfg, testLogger, { drain: true })
    ).done;
    expectEndStateOf(await readEndState(ns), sim);
  });

  it('reconcile drains as its own user: every reference in its expected status', async () => {
    await (
      await startReconcile(asRole('reconcile'), testLogger, { drain: true })
    ).done;
    expectStatusesOf(await readReconState(ns), truth);
  });

  it('the API as its own user: alert triage, an exception accepted, a model promoted, a console session, each audited', async () => {
    const keys = {
      analyst: (await createApiKey(adminPool, 'lp-analyst', 'analyst', 'test')).key,
      admin: (await createApiKey(adminPool, 'lp-admin', 'admin', 'test')).key,
    };
    apiPool = createPool(asRole('api'));
    app = await buildApp(
      { pool: apiPool, logger: testLogger, metrics: createApiMetrics(null), probes: dependencyProbes({ pool: apiPool }) },
      { rateLimitPerMinute: 100_000, keyCacheMs: 0, guard: UNLIMITED_GUARD },
    );
    await app.ready();
    const post = (url: string, key: string, payload: object = {}) =>
      app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${key}` }, payload });

    const [[alert]] = await adminPool.query<RowDataPacket[]>("SELECT alert_id FROM alerts WHERE status = 'OPEN' LIMIT 1");
    const id = String(alert?.alert_id);
    expect((await post(`/api/v1/alerts/${id}/acknowledge`, keys.analyst)).statusCode).toBe(200);
    const resolved = await post(`/api/v1/alerts/${id}/resolve`, keys.analyst, { label: 'fraud', note: 'confirmed' });
    expect(resolved.json()).toEqual({ alert_id: id, status: 'CONFIRMED_FRAUD' });

    const [[exception]] = await adminPool.query<RowDataPacket[]>(
      "SELECT reference FROM recon_results WHERE status <> 'MATCHED' AND status <> 'PENDING' LIMIT 1",
    );
    const accepted = await post(`/api/v1/reconciliation/exceptions/${String(exception?.reference)}/accept`, keys.analyst, {
      note: 'fee',
    });
    expect(accepted.statusCode, accepted.body).toBe(200);

    const model = await trainModel(
      adminPool,
      admin.state.windows,
      { trees: 20, sampleSize: 128, seed: 1, alertRate: 0.01 },
      () => {},
    );
    await registerModel(adminPool, model, 'test');
    const promoted = await post(`/api/v1/models/${model.version}/promote`, keys.admin, { reason: 'least privilege' });
    expect(promoted.statusCode, promoted.body).toBe(200);

    // A console session opened and ended (issue 20): api_sessions written by this user.
    const signIn = await app.inject({ method: 'POST', url: '/api/v1/session', payload: { key: keys.analyst } });
    expect(signIn.statusCode, signIn.body).toBe(200);
    const cookie = String(signIn.headers['set-cookie']).split(';')[0] as string;
    const signOut = await app.inject({
      method: 'DELETE',
      url: '/api/v1/session',
      headers: { cookie, 'x-csrf-token': signIn.json<{ csrf_token: string }>().csrf_token },
    });
    expect(signOut.statusCode, signOut.body).toBe(204);

    const [actions] = await adminPool.query<RowDataPacket[]>('SELECT action FROM audit_log ORDER BY id');
    expect(actions.map((a) => String(a.action))).toEqual(
      expect.arrayContaining([
        'alert.acknowledge',
        'alert.resolve',
        'recon.accepted',
        'model.promote',
        'session.create',
        'session.end',
      ]),
    );
    // And the API's user still cannot empty what it just wrote.
    await expect(apiPool.query('TRUNCATE TABLE audit_log')).rejects.toMatchObject({ code: 'ER_TABLEACCESS_DENIED_ERROR' });
  });

  it('ops-watch as its own user: writes its alerts (a revision, then a later one), and nothing else', async () => {
    const opsPool = createPool(asRole('ops'));
    try {
      const alert: OpsAlert = {
        alertId: 'ops-lp-1',
        revision: 1,
        kind: 'ANOMALY',
        status: 'OPEN',
        openedAt: Date.now(),
        updatedAt: Date.now(),
        closedAt: null,
        firstMover: 'ingest:up',
        summary: 'ingest:up moved first',
        evidence: [{ series: 'ingest:up', startedAt: Date.now(), value: 0, baseline: 1, score: -1e9 }],
        forecast: null,
      };
      await writeOpsAlerts(opsPool, [alert]);
      await writeOpsAlerts(opsPool, [{ ...alert, revision: 2, status: 'CLOSED', closedAt: Date.now() }]);
      const [[row]] = await adminPool.query<RowDataPacket[]>(
        "SELECT revision, status FROM ops_alerts WHERE alert_id = 'ops-lp-1'",
      );
      expect([row?.revision, row?.status]).toEqual([2, 'CLOSED']);
      await expect(opsPool.query("UPDATE alerts SET status = 'OPEN' WHERE 1 = 0")).rejects.toMatchObject({
        code: 'ER_TABLEACCESS_DENIED_ERROR',
      });
      await expect(opsPool.query('DELETE FROM ops_alerts')).rejects.toMatchObject({ code: 'ER_TABLEACCESS_DENIED_ERROR' });
    } finally {
      await opsPool.end();
    }
  });
});
