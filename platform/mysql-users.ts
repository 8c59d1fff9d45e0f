/**
 * Least-privilege MySQL users, created (or brought up to date) by `txmon migrate`, which runs as an
 * administrator. Each process then connects as its own user (TXMON_MYSQL_URL + TXMON_MYSQL_PASSWORD_FILE):
 * every user reads the database, and writes only the tables its own code writes (the INSERT/UPDATE
 * statements of sinks/, models/model-registry.ts, dashboard-api/, state/rebuild.ts). No
 * user gets DELETE, DROP (which TRUNCATE needs), ALTER, CREATE or GRANT, so a compromised or buggy
 * process cannot empty the audit log or the history, nor change the schema. A new write in the code
 * needs its table here too.
 */
import type mysql from 'mysql2/promise';
import type { MysqlRole, TxmonConfig } from '../config/config.ts';
import { createConnection } from './mysql.ts';

type Privilege = 'INSERT' | 'UPDATE';

/** The tables each role writes, and how. Reads: SELECT on the whole database. */
export const ROLE_WRITES: Readonly<Record<MysqlRole, Readonly<Record<string, readonly Privilege[]>>>> = {
  // ON DUPLICATE KEY UPDATE (the idempotent sinks) needs UPDATE beside INSERT. A decision is
  // columns of its transaction's row (migration 013; `decisions` is a view nobody writes); feature
  // layouts are registered by `txmon migrate`, the ingest only reads them.
  ingest: {
    transactions: ['INSERT', 'UPDATE'],
    transaction_duplicates: ['INSERT', 'UPDATE'],
    alerts: ['INSERT', 'UPDATE'],
    state_generation: ['INSERT', 'UPDATE'],
    rule_shadow_counts: ['INSERT', 'UPDATE'],
    rollout_counts: ['INSERT', 'UPDATE'],
    // A guardrail check records its evidence, and rolls a rollout back when one is crossed (its
    // audit entry is written by the rollouts table's trigger, not by this user: migration 016).
    rollouts: ['UPDATE'],
    rule_set_registry: ['UPDATE'],
  },
  reconcile: {
    settlements: ['INSERT'],
    recon_items: ['INSERT'],
    recon_supersessions: ['INSERT'],
    recon_results: ['INSERT', 'UPDATE'],
    recon_events: ['INSERT', 'UPDATE'],
    recon_progress: ['INSERT', 'UPDATE'],
  },
  // The dashboard API: triage (alert status, labels), exception resolution, model promotion and
  // rollback, rule sets published and moved through their states, a key's last use, console
  // sessions, each with its audit entry. Creating keys and models is the CLI's.
  api: {
    alerts: ['UPDATE'],
    labels: ['INSERT', 'UPDATE'],
    audit_log: ['INSERT'],
    recon_results: ['UPDATE'],
    models: ['UPDATE'],
    model_registry: ['UPDATE'],
    rule_sets: ['INSERT', 'UPDATE'],
    rule_set_registry: ['UPDATE'],
    rollouts: ['INSERT', 'UPDATE'],
    api_keys: ['UPDATE'],
    // console sessions (issue 20): opened at sign-in, revoked at sign-out
    api_sessions: ['INSERT', 'UPDATE'],
  },
  // ops-watch (issue 21): its alerts, a row each at the latest revision.
  ops: {
    ops_alerts: ['INSERT', 'UPDATE'],
  },
};

/** The user name of a role. */
export function roleUser(cfg: TxmonConfig, role: MysqlRole): string {
  return `${cfg.mysql.userPrefix}_${role}`;
}

// MariaDB: 1141 "no such grant defined for user", 1147 "no such grant ... on table".
const NO_SUCH_GRANT = new Set([1141, 1147]);

async function revokeIgnoringMissing(conn: mysql.Connection, sql: string, params: unknown[]): Promise<void> {
  try {
    await conn.query(sql, params);
  } catch (err) {
    if (!NO_SUCH_GRANT.has((err as { errno?: number }).errno ?? 0)) throw err;
  }
}

/**
 * Creates each role that has a password configured, sets its password, and makes its privileges
 * on this database exactly ROLE_WRITES plus SELECT (older grants on this database are revoked, so a
 * re-run after a change of ROLE_WRITES takes privileges away too). Returns the users it handled.
 */
export async function ensureRoleUsers(cfg: TxmonConfig, log: (line: string) => void = () => {}): Promise<string[]> {
  const roles = (Object.keys(ROLE_WRITES) as MysqlRole[]).filter((r) => cfg.mysql.rolePasswords[r] !== undefined);
  if (roles.length === 0) return [];
  const db = cfg.mysql.database;
  const conn = await createConnection(cfg, { database: false });
  try {
    for (const role of roles) {
      const user = roleUser(cfg, role);
      const password = (cfg.mysql.rolePasswords[role] as NonNullable<(typeof cfg.mysql.rolePasswords)[MysqlRole]>).reveal();
      // '%': the processes connect from their own hosts; the password (and TLS) guard the account.
      await conn.query("CREATE USER IF NOT EXISTS ?@'%' IDENTIFIED BY ?", [user, password]);
      await conn.query("ALTER USER ?@'%' IDENTIFIED BY ?", [user, password]);
      await revokeIgnoringMissing(conn, `REVOKE ALL PRIVILEGES ON \`${db}\`.* FROM ?@'%'`, [user]);
      const [tables] = await conn.query<mysql.RowDataPacket[]>(
        "SELECT Table_name AS t FROM mysql.tables_priv WHERE User = ? AND Host = '%' AND Db = ?",
        [user, db],
      );
      for (const { t } of tables)
        await revokeIgnoringMissing(conn, `REVOKE ALL PRIVILEGES ON \`${db}\`.\`${String(t)}\` FROM ?@'%'`, [user]);
      await conn.query(`GRANT SELECT ON \`${db}\`.* TO ?@'%'`, [user]);
      for (const [table, privileges] of Object.entries(ROLE_WRITES[role]))
        await conn.query(`GRANT ${privileges.join(', ')} ON \`${db}\`.\`${table}\` TO ?@'%'`, [user]);
      log(`migrate: user ${user}: SELECT on ${db}, writes ${Object.keys(ROLE_WRITES[role]).join(', ')}`);
    }
  } finally {
    await conn.end();
  }
  return roles.map((r) => roleUser(cfg, r));
}
