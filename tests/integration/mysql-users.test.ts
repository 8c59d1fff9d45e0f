// `txmon migrate` creates least-privilege users: against the real MariaDB, the API's user cannot
// empty the audit log (the review's TRUNCATE took it from 3 rows to 0 as root) but can do a triage
// write; the processors' users cannot drop, alter or delete; a re-run takes away what it no longer grants.
import { randomBytes } from 'node:crypto';
import type mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type TxmonConfig } from '../../config/config.ts';
import { createConnection, migrate } from '../../platform/mysql.ts';
import { ensureRoleUsers, roleUser } from '../../platform/mysql-users.ts';
import { audit } from '../../sinks/audit.ts';

const id = `u${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
const base = loadConfig(process.env);
const adminEnv = {
  ...process.env,
  TXMON_MYSQL_URL: `${base.mysql.serverUrl}/txmon_${id}`,
  TXMON_MYSQL_USER_PREFIX: id,
  TXMON_MYSQL_INGEST_PASSWORD: `ingest-${randomBytes(8).toString('hex')}`,
  TXMON_MYSQL_RECONCILE_PASSWORD: `recon-${randomBytes(8).toString('hex')}`,
  TXMON_MYSQL_API_PASSWORD: `api-${randomBytes(8).toString('hex')}`,
};
const admin: TxmonConfig = loadConfig(adminEnv);

/** The config a process of this role runs with: its own user, its password from the setting. */
function asRole(role: 'ingest' | 'reconcile' | 'api'): TxmonConfig {
  const { host, port, database } = admin.mysql;
  return loadConfig({
    TXMON_MYSQL_URL: `mysql://${roleUser(admin, role)}@${host}:${port}/${database}`,
    TXMON_MYSQL_PASSWORD: adminEnv[`TXMON_MYSQL_${role.toUpperCase()}_PASSWORD` as 'TXMON_MYSQL_API_PASSWORD'],
  });
}

const conns: mysql.Connection[] = [];
async function connect(role: 'ingest' | 'reconcile' | 'api'): Promise<mysql.Connection> {
  const c = await createConnection(asRole(role));
  conns.push(c);
  return c;
}

beforeAll(async () => {
  await migrate(admin);
  expect(await ensureRoleUsers(admin)).toEqual([`${id}_ingest`, `${id}_reconcile`, `${id}_api`]);
  const c = await createConnection(admin);
  try {
    for (const i of [1, 2, 3])
      await c.query("INSERT INTO audit_log (at, actor, action, subject, detail) VALUES (NOW(3), 'seed', 'seed', ?, '{}')", [
        `s${i}`,
      ]);
    await c.query(
      "INSERT INTO alerts (alert_id, transaction_id, account_id, decision, risk_score, summary, event_time, created_at) VALUES ('a1', 't1', 'acc', 'REVIEW', 0.9, 's', NOW(3), NOW(3))",
    );
  } finally {
    await c.end();
  }
});

afterAll(async () => {
  for (const c of conns) await c.end().catch(() => {});
  const c = await createConnection(admin, { database: false });
  try {
    for (const role of ['ingest', 'reconcile', 'api'] as const)
      await c.query("DROP USER IF EXISTS ?@'%'", [roleUser(admin, role)]);
    await c.query(`DROP DATABASE IF EXISTS \`${admin.mysql.database}\``);
  } finally {
    await c.end();
  }
});

async function auditRows(): Promise<number> {
  const c = await createConnection(admin);
  try {
    const [[row]] = await c.query<mysql.RowDataPacket[]>('SELECT COUNT(*) AS n FROM audit_log');
    return Number(row?.n);
  } finally {
    await c.end();
  }
}

describe('least-privilege MySQL users', () => {
  it('the API user cannot TRUNCATE, DELETE from or DROP the audit log, and it keeps its rows', async () => {
    const api = await connect('api');
    await expect(api.query('TRUNCATE TABLE audit_log')).rejects.toMatchObject({ code: 'ER_TABLEACCESS_DENIED_ERROR' });
    await expect(api.query('DELETE FROM audit_log')).rejects.toMatchObject({ code: 'ER_TABLEACCESS_DENIED_ERROR' });
    await expect(api.query('DROP TABLE audit_log')).rejects.toMatchObject({ code: 'ER_TABLEACCESS_DENIED_ERROR' });
    await expect(api.query('ALTER TABLE audit_log ADD COLUMN x INT')).rejects.toMatchObject({
      code: 'ER_TABLEACCESS_DENIED_ERROR',
    });
    expect(await auditRows()).toBe(3);
  });

  it('the API user does a triage write: the alert status, the label and its audit entry in one transaction', async () => {
    const api = (await connect('api')) as mysql.Connection & mysql.PoolConnection;
    await api.beginTransaction();
    await api.query("UPDATE alerts SET status = 'CONFIRMED_FRAUD' WHERE alert_id = 'a1'");
    await api.query(
      "INSERT INTO labels (transaction_id, label, pattern, source, labelled_at) VALUES ('t1', 'fraud', NULL, 'analyst', NOW(3)) ON DUPLICATE KEY UPDATE label = VALUES(label)",
    );
    await audit(api, 'analyst@test', 'alert.status', 'alert:a1', { to: 'CONFIRMED_FRAUD' });
    await api.commit();
    expect(await auditRows()).toBe(4);
    // ... but writes nothing the processors own.
    await expect(api.query("INSERT INTO decisions (transaction_id) VALUES ('x')")).rejects.toMatchObject({
      code: 'ER_TABLEACCESS_DENIED_ERROR',
    });
  });

  it('the processors’ users cannot DROP, ALTER, TRUNCATE or write the audit log, and read what they need', async () => {
    for (const role of ['ingest', 'reconcile'] as const) {
      const c = await connect(role);
      await expect(c.query('DROP TABLE transactions')).rejects.toMatchObject({ code: 'ER_TABLEACCESS_DENIED_ERROR' });
      await expect(c.query('TRUNCATE TABLE transactions')).rejects.toMatchObject({ code: 'ER_TABLEACCESS_DENIED_ERROR' });
      await expect(c.query('ALTER TABLE transactions ADD COLUMN x INT')).rejects.toMatchObject({
        code: 'ER_TABLEACCESS_DENIED_ERROR',
      });
      await expect(c.query('DELETE FROM transactions')).rejects.toMatchObject({ code: 'ER_TABLEACCESS_DENIED_ERROR' });
      await expect(
        c.query("INSERT INTO audit_log (at, actor, action, subject, detail) VALUES (NOW(3), 'x', 'x', 'x', '{}')"),
      ).rejects.toMatchObject({ code: 'ER_TABLEACCESS_DENIED_ERROR' });
      await expect(c.query('SELECT COUNT(*) FROM ref_accounts')).resolves.toBeDefined();
    }
    const ingest = await connect('ingest');
    // Feature layouts are migrate's to register (it regenerates transactions.features): the ingest reads them only.
    await expect(ingest.query('SELECT version, names FROM feature_layouts')).resolves.toBeDefined();
    await expect(ingest.query('INSERT INTO feature_layouts (names) VALUES (\'["x"]\')')).rejects.toMatchObject({
      code: 'ER_TABLEACCESS_DENIED_ERROR',
    });
    await expect(ingest.query('CALL txmon_regenerate_features()')).rejects.toMatchObject({ code: 'ER_PROCACCESS_DENIED_ERROR' });
    // The decisions view is read (old readers), never written.
    await expect(ingest.query('SELECT COUNT(*) FROM decisions')).resolves.toBeDefined();
    await expect(ingest.query("UPDATE decisions SET risk_score = 0 WHERE transaction_id = 'x'")).rejects.toMatchObject({
      code: 'ER_TABLEACCESS_DENIED_ERROR',
    });
    await ingest.query(
      'INSERT INTO state_generation (id, generation) VALUES (1, LAST_INSERT_ID(1)) ON DUPLICATE KEY UPDATE generation = LAST_INSERT_ID(generation + 1)',
    );
    const recon = await connect('reconcile');
    await recon.query(
      "INSERT INTO recon_progress (group_id, updated_at) VALUES ('g', NOW(3)) ON DUPLICATE KEY UPDATE group_id = group_id",
    );
  });

  it('a re-run is idempotent, rotates the password and revokes a privilege granted by hand', async () => {
    const c = await createConnection(admin, { database: false });
    try {
      await c.query(`GRANT DELETE, DROP ON \`${admin.mysql.database}\`.audit_log TO ?@'%'`, [roleUser(admin, 'api')]);
    } finally {
      await c.end();
    }
    const rotated = loadConfig({ ...adminEnv, TXMON_MYSQL_API_PASSWORD: 'rotated-pw-1' });
    await ensureRoleUsers(rotated);
    const { host, port, database } = admin.mysql;
    const api = await createConnection(
      loadConfig({
        TXMON_MYSQL_URL: `mysql://${roleUser(admin, 'api')}@${host}:${port}/${database}`,
        TXMON_MYSQL_PASSWORD: 'rotated-pw-1',
      }),
    );
    conns.push(api);
    await expect(api.query('TRUNCATE TABLE audit_log')).rejects.toMatchObject({ code: 'ER_TABLEACCESS_DENIED_ERROR' });
    await expect(createConnection(asRole('api'))).rejects.toMatchObject({ code: 'ER_ACCESS_DENIED_ERROR' });
    expect(await auditRows()).toBe(4);
  });
});
